import { useState } from 'preact/hooks';
import { ApiError, post } from '../api.ts';
import { useSession } from '../session.ts';
import { ErrorBox, Field, useFormSubmit } from '../ui.tsx';

/** The signed-in user's password: the current one is needed; other sessions are signed out. */
export function PasswordPage() {
  const { me } = useSession();
  const [currentPassword, setCurrent] = useState('');
  const [newPassword, setNew] = useState('');
  const [repeat, setRepeat] = useState('');
  const [done, setDone] = useState<string | null>(null);
  const { busy, error, submit } = useFormSubmit();
  const change = async () => {
    setDone(null);
    if (newPassword !== repeat)
      throw new ApiError(400, 'validation_error', 'The two new passwords differ', [
        { path: 'repeat', message: 'must be the same as the new password' },
      ]);
    const r = await post<{ data: { otherSessionsEnded: number } }>('/auth/password', {
      currentPassword,
      newPassword,
    });
    const n = r.data.otherSessionsEnded;
    setDone(
      `Password changed. ${n === 0 ? 'No other session was open.' : `${n} other session${n === 1 ? ' was' : 's were'} signed out.`}`,
    );
    setCurrent('');
    setNew('');
    setRepeat('');
  };
  return (
    <section class="narrow-section">
      <h1>Password</h1>
      <p class="muted">
        For <strong>{me.user?.email}</strong>. Changing it signs you out everywhere else; this
        browser stays signed in.
      </p>
      <form class="card" onSubmit={submit(change)} aria-label="Change password">
        {/* For password managers: whose password this is. */}
        <input
          type="text"
          name="username"
          autoComplete="username"
          value={me.user?.email ?? ''}
          hidden
          readOnly
        />
        <Field
          label="Current password"
          name="currentPassword"
          type="password"
          value={currentPassword}
          onInput={setCurrent}
          required
          autoComplete="current-password"
        />
        <Field
          label="New password"
          name="newPassword"
          type="password"
          value={newPassword}
          onInput={setNew}
          required
          autoComplete="new-password"
          hint="At least 10 characters"
        />
        <Field
          label="New password again"
          name="repeatPassword"
          type="password"
          value={repeat}
          onInput={setRepeat}
          required
          autoComplete="new-password"
        />
        <ErrorBox error={error} />
        {done && (
          <p class="status ok" role="status">
            {done}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Changing…' : 'Change password'}
        </button>
      </form>
    </section>
  );
}
