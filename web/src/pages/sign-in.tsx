import { useState } from 'preact/hooks';
import { ApiError, csrf, post } from '../api.ts';
import { ErrorBox, Field, Loading, useFormSubmit, useLoad } from '../ui.tsx';

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

type InvitationLookup = {
  data: {
    email: string;
    role: string;
    organization: { name: string };
    expiresAt: string;
    existingAccount: boolean;
  };
};

/**
 * The page of an invitation link (`/invite#<token>`): the token stays in the fragment, which no
 * request carries, and goes to the API in a body. A new user chooses a password; an email that
 * already has an account enters its password. Then signed in.
 */
export function InvitePage({ onSignedIn }: { onSignedIn: () => Promise<void> }) {
  const token = decodeURIComponent(location.hash.slice(1));
  const invitation = useLoad(
    () => post<InvitationLookup>('/auth/invitations/lookup', { token }).then((r) => r.data),
    [token],
  );
  const [password, setPassword] = useState('');
  const [repeat, setRepeat] = useState('');
  const { busy, error, submit } = useSignIn(onSignedIn);
  const i = invitation.data;
  return (
    <main class="narrow">
      <h1>Join the team</h1>
      {!token && (
        <ErrorBox
          error={new Error('This page needs the whole invitation link, with its # part.')}
        />
      )}
      {token && invitation.loading && <Loading what="Checking the invitation" />}
      {token && <ErrorBox error={invitation.error} />}
      {i && (
        <>
          <p>
            You are invited to <strong>{i.organization.name}</strong> as <strong>{i.role}</strong>,
            with the email <strong>{i.email}</strong>.
          </p>
          <form
            aria-label="Accept the invitation"
            onSubmit={submit(async () => {
              if (!i.existingAccount && password !== repeat)
                throw new ApiError(400, 'validation_error', 'The two passwords differ', [
                  { path: 'repeat', message: 'must be the same as the password' },
                ]);
              return post<SessionAnswer>('/auth/invitations/accept', { token, password });
            })}
          >
            <input type="email" value={i.email} autoComplete="username" hidden readOnly />
            <Field
              label={i.existingAccount ? 'Your password' : 'Choose a password'}
              name="invitePassword"
              type="password"
              value={password}
              onInput={setPassword}
              required
              autoComplete={i.existingAccount ? 'current-password' : 'new-password'}
              hint={
                i.existingAccount
                  ? 'This email already has an account: enter its password'
                  : 'At least 10 characters'
              }
            />
            {!i.existingAccount && (
              <Field
                label="Password again"
                name="invitePasswordRepeat"
                type="password"
                value={repeat}
                onInput={setRepeat}
                required
                autoComplete="new-password"
              />
            )}
            <ErrorBox error={error} />
            <button type="submit" disabled={busy}>
              {busy ? 'Joining…' : 'Join and sign in'}
            </button>
          </form>
        </>
      )}
    </main>
  );
}
