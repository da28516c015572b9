import { useState } from 'preact/hooks';
import { type ApiKey, del, get, type List, type One, post } from '../api.ts';
import { dateTime } from '../format.ts';
import { useSession } from '../session.ts';
import { CopyButton, ErrorBox, Field, Loading, Select, useLoad } from '../ui.tsx';

const PERMISSIONS: [string, string][] = [
  ['full', 'Full'],
  ['read_only', 'Read-only'],
  ['analytics', 'Analytics'],
];

/** Management API keys (`ak_live_…`): created here, shown once, revoked here. */
export function ApiKeysPage() {
  const { canEdit } = useSession();
  const keys = useLoad(() => get<List<ApiKey>>('/api-keys?limit=200').then((r) => r.data), []);
  const [name, setName] = useState('');
  const [permission, setPermission] = useState('read_only');
  const [created, setCreated] = useState<string | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const create = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const r = await post<One<ApiKey & { key: string }>>('/api-keys', { name, permission });
      setCreated(r.data.key);
      setName('');
      keys.reload();
    } catch (err) {
      setError(err as Error);
    }
  };
  const revoke = async (k: ApiKey) => {
    setError(null);
    try {
      await del(`/api-keys/${k.id}`);
      keys.reload();
    } catch (err) {
      setError(err as Error);
    }
  };
  return (
    <section>
      <h1>API keys</h1>
      <p class="muted">
        Keys for scripts and servers calling <code>/api/v1</code> (
        <a href="/api/v1/docs">reference</a>). Full: everything; Read-only: every read; Analytics:
        reports only.
      </p>
      {canEdit && (
        <form class="card" onSubmit={create} aria-label="New API key">
          <div class="grid">
            <Field
              label="Name"
              name="keyName"
              value={name}
              onInput={setName}
              required
              placeholder="ci"
            />
            <Select
              label="Permission"
              name="permission"
              value={permission}
              options={PERMISSIONS}
              onChange={setPermission}
            />
          </div>
          <button type="submit">Create key</button>
        </form>
      )}
      {created && (
        <div class="card created" role="status">
          <p>
            <strong>Your new key — shown once, store it now:</strong>
          </p>
          <p>
            <code data-testid="new-key">{created}</code> <CopyButton text={created} />
          </p>
        </div>
      )}
      <ErrorBox error={error ?? keys.error} />
      {keys.loading && <Loading what="Loading keys" />}
      {keys.data && (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Permission</th>
                <th scope="col">Key</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.data.map((k) => (
                <tr key={k.id}>
                  <th scope="row">{k.name}</th>
                  <td>{k.permission}</td>
                  <td>
                    <code>ak_live_…{k.last4}</code>
                  </td>
                  <td>{k.lastUsedAt ? dateTime(k.lastUsedAt) : 'never'}</td>
                  <td>
                    {canEdit && (
                      <button type="button" class="secondary small" onClick={() => revoke(k)}>
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
    </section>
  );
}
