import { useState } from 'preact/hooks';
import { csrf, post } from '../api.ts';
import { ErrorBox, Field, useFormSubmit } from '../ui.tsx';

type SessionAnswer = { data: { csrfToken: string } };

/** Signs in with `send`'s answer (its CSRF token kept for the API client), then `onDone`. */
function useSignIn(onDone: () => Promise<void>) {
  const { busy, error, submit } = useFormSubmit();
  const signIn = (send: () => Promise<SessionAnswer>) =>
    submit(async () => {
      csrf.set((await send()).data.csrfToken);
      await onDone();
    });
  return { busy, error, submit: signIn };
}

export function LoginPage({ onSignedIn }: { onSignedIn: () => Promise<void> }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const { busy, error, submit } = useSignIn(onSignedIn);
  return (
    <main class="narrow">
      <h1>Sign in</h1>
      <form onSubmit={submit(() => post<SessionAnswer>('/auth/login', { email, password }))}>
        <Field
          label="Email"
          name="email"
          type="email"
          value={email}
          onInput={setEmail}
          required
          autoComplete="username"
        />
        <Field
          label="Password"
          name="password"
          type="password"
          value={password}
          onInput={setPassword}
          required
          autoComplete="current-password"
        />
        <ErrorBox error={error} />
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      <p>
        First start of this server? <a href="/setup">Create the organization and its owner</a>.
      </p>
    </main>
  );
}

export function SetupPage({ onSignedIn }: { onSignedIn: () => Promise<void> }) {
  const [setupToken, setToken] = useState('');
  const [organizationName, setOrg] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const { busy, error, submit } = useSignIn(onSignedIn);
  return (
    <main class="narrow">
      <h1>Set up</h1>
      <p>
        Creates the first organization and its owner. Only possible while the server has no user.
      </p>
      <form
        onSubmit={submit(() =>
          post<SessionAnswer>('/auth/setup', { setupToken, organizationName, email, password }),
        )}
      >
        <Field
          label="Setup token"
          name="setupToken"
          value={setupToken}
          onInput={setToken}
          required
          hint="Printed on the server's console at start while no organization exists"
        />
        <Field
          label="Organization"
          name="organization"
          value={organizationName}
          onInput={setOrg}
          required
        />
        <Field
          label="Email"
          name="email"
          type="email"
          value={email}
          onInput={setEmail}
          required
          autoComplete="username"
        />
        <Field
          label="Password"
          name="password"
          type="password"
          value={password}
          onInput={setPassword}
          required
          autoComplete="new-password"
          hint="At least 10 characters"
        />
        <ErrorBox error={error} />
        <button type="submit" disabled={busy}>
          {busy ? 'Creating…' : 'Create and sign in'}
        </button>
      </form>
      <p>
        Already set up? <a href="/login">Sign in</a>.
      </p>
    </main>
  );
}
