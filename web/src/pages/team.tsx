import { useState } from 'preact/hooks';
import {
  del,
  get,
  type Invitation,
  type List,
  type Member,
  type One,
  patch,
  post,
  type Role,
} from '../api.ts';
import { dateTime } from '../format.ts';
import { useSession } from '../session.ts';
import { CopyButton, ErrorBox, Field, Loading, Select, useFormSubmit, useLoad } from '../ui.tsx';

const ROLES: [Role, string][] = [
  ['owner', 'Owner'],
  ['admin', 'Admin'],
  ['member', 'Member'],
  ['viewer', 'Viewer'],
];

/**
 * Settings → Team: the members and their roles, invitations with a one-time link. Owners and
 * admins manage it (only owners touch owners); others see it read-only. The API enforces the same
 * rules (docs/dashboard.md "Team").
 */
export function TeamPage() {
  const { me } = useSession();
  const myRole = me.user?.role;
  const manages = myRole === 'owner' || myRole === 'admin';
  const members = useLoad(
    () => get<List<Member>>('/team/members?limit=200').then((r) => r.data),
    [],
  );
  const invitations = useLoad(
    () =>
      manages
        ? get<List<Invitation>>('/team/invitations?limit=200').then((r) => r.data)
        : Promise.resolve([]),
    [manages],
  );
  const [error, setError] = useState<Error | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [removing, setRemoving] = useState<string | null>(null);
  /** A role picked in a member's list, applied by its Save button (arrow keys never apply one). */
  const [chosen, setChosen] = useState<Record<string, string>>({});
  const act = async (what: () => Promise<unknown>, done: string) => {
    setError(null);
    setSaved(null);
    try {
      await what();
      setSaved(done);
    } catch (e) {
      setError(e as Error);
    }
    members.reload();
    invitations.reload();
  };
  /** Whether the caller may change this member: never themselves; owners only by owners. */
  const mayChange = (m: Member) => manages && !m.you && (myRole === 'owner' || m.role !== 'owner');
  const roleOptions = ROLES.filter(([r]) => myRole === 'owner' || r !== 'owner');

  return (
    <section>
      <h1>Team</h1>
      <p class="muted">
        Owners and admins manage the team; members use everything else; viewers only read. Only an
        owner makes or changes an owner, and the organization always keeps one.
      </p>
      {manages && <Invite roles={roleOptions} onDone={invitations.reload} />}
      <ErrorBox error={error ?? members.error} />
      {saved && (
        <p class="status ok" role="status">
          {saved}
        </p>
      )}
      <h2>Members</h2>
      {members.loading && !members.data && <Loading what="Loading members" />}
      {members.data && (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">Joined</th>
                <th scope="col">Last seen</th>
                {manages && (
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                )}
              </tr>
            </thead>
            <tbody>
              {members.data.map((m) => (
                <tr key={m.userId}>
                  <th scope="row">
                    {m.email}
                    {m.you && <span class="tag">you</span>}
                  </th>
                  <td>
                    {mayChange(m) ? (
                      <span class="actions">
                        <select
                          aria-label={`Role of ${m.email}`}
                          value={chosen[m.userId] ?? m.role}
                          onChange={(e) =>
                            setChosen({
                              ...chosen,
                              [m.userId]: (e.target as HTMLSelectElement).value,
                            })
                          }
                        >
                          {roleOptions.map(([r, l]) => (
                            <option key={r} value={r}>
                              {l}
                            </option>
                          ))}
                        </select>
                        {chosen[m.userId] && chosen[m.userId] !== m.role && (
                          <button
                            type="button"
                            class="small"
                            onClick={() => {
                              const role = chosen[m.userId];
                              setChosen({ ...chosen, [m.userId]: '' });
                              void act(
                                () => patch(`/team/members/${m.userId}`, { role }),
                                `${m.email} is now ${role}.`,
                              );
                            }}
                          >
                            Save role of {m.email}
                          </button>
                        )}
                      </span>
                    ) : (
                      m.role
                    )}
                  </td>
                  <td>{dateTime(m.joinedAt)}</td>
                  <td>{m.lastSeenAt ? dateTime(m.lastSeenAt) : '–'}</td>
                  {manages && (
                    <td>
                      {mayChange(m) &&
                        (removing === m.userId ? (
                          <span class="actions">
                            <button
                              type="button"
                              class="small danger"
                              onClick={() => (
                                setRemoving(null),
                                act(() => del(`/team/members/${m.userId}`), `${m.email} removed.`)
                              )}
                            >
                              Confirm removal of {m.email}
                            </button>
                            <button
                              type="button"
                              class="small secondary"
                              onClick={() => setRemoving(null)}
                            >
                              Keep
                            </button>
                          </span>
                        ) : (
                          <button
                            type="button"
                            class="small secondary"
                            aria-label={`Remove ${m.email}`}
                            onClick={() => setRemoving(m.userId)}
                          >
                            Remove
                          </button>
                        ))}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {manages && (
        <>
          <h2 class="spaced">Open invitations</h2>
          <ErrorBox error={invitations.error} />
          {invitations.data?.length === 0 && <p class="muted">None.</p>}
          {invitations.data && invitations.data.length > 0 && (
            <div class="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Email</th>
                    <th scope="col">Role</th>
                    <th scope="col">Invited by</th>
                    <th scope="col">Link expires</th>
                    <th scope="col">
                      <span class="sr-only">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {invitations.data.map((i) => (
                    <tr key={i.id}>
                      <th scope="row">{i.email}</th>
                      <td>{i.role}</td>
                      <td>{i.invitedBy ?? '–'}</td>
                      <td>{dateTime(i.expiresAt)}</td>
                      <td>
                        {(myRole === 'owner' || i.role !== 'owner') && (
                          <button
                            type="button"
                            class="small secondary"
                            aria-label={`Revoke the invitation of ${i.email}`}
                            onClick={() =>
                              act(
                                () => del(`/team/invitations/${i.id}`),
                                `Invitation of ${i.email} revoked.`,
                              )
                            }
                          >
                            Revoke
                          </button>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </section>
  );
}

function Invite({ roles, onDone }: { roles: [Role, string][]; onDone: () => void }) {
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<string>('member');
  const [link, setLink] = useState<{ email: string; url: string } | null>(null);
  const { busy, error, submit } = useFormSubmit();
  const invite = async () => {
    setLink(null);
    const r = await post<One<Invitation & { url: string }>>('/team/invitations', { email, role });
    setLink({ email: r.data.email, url: r.data.url });
    setEmail('');
    onDone();
  };
  return (
    <form class="card" onSubmit={submit(invite)} aria-label="Invite a member">
      <h2>Invite a member</h2>
      <div class="grid">
        <Field
          label="Email"
          name="inviteEmail"
          type="email"
          value={email}
          onInput={setEmail}
          required
        />
        <Select label="Role" name="inviteRole" value={role} options={roles} onChange={setRole} />
      </div>
      <ErrorBox error={error} />
      <button type="submit" disabled={busy}>
        {busy ? 'Inviting…' : 'Create invitation link'}
      </button>
      {link && (
        <div class="created" role="status">
          <p>
            <strong>
              Invitation link for {link.email} — shown once, valid 7 days. Send it to them yourself:
            </strong>
          </p>
          <p>
            <code data-testid="invite-link">{link.url}</code> <CopyButton text={link.url} />
          </p>
        </div>
      )}
    </form>
  );
}
