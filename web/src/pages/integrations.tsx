import { useState } from 'preact/hooks';
import {
  type App,
  get,
  type Integration,
  type One,
  patch,
  post,
  type SecretState,
} from '../api.ts';
import { dateTime } from '../format.ts';
import { useSession } from '../session.ts';
import { Check, ErrorBox, Field, Loading, useFormSubmit, useLoad } from '../ui.tsx';

type FieldDef = { key: string; label: string; secret?: boolean; hint?: string };
type NetworkDef = { network: Integration['network']; name: string; fields: FieldDef[] };

/** The settings of each network (docs/spec/api.md "Integrations"; docs/forwarding.md). */
const NETWORKS: NetworkDef[] = [
  {
    network: 'meta',
    name: 'Meta (Conversions API)',
    fields: [
      {
        key: 'datasetId',
        label: 'Dataset ID',
        hint: 'Events Manager → Data Sources → the pixel → Settings',
      },
      {
        key: 'accessToken',
        label: 'Access token',
        secret: true,
        hint: 'A system-user token with ads_management',
      },
      {
        key: 'testEventCode',
        label: 'Test event code',
        hint: 'Optional: sends events to Events Manager → Test Events',
      },
    ],
  },
  {
    network: 'google',
    name: 'Google Ads (offline click conversions)',
    fields: [
      { key: 'customerId', label: 'Customer ID', hint: '10 digits, dashes allowed' },
      { key: 'loginCustomerId', label: 'Manager (login) customer ID', hint: 'Optional (MCC)' },
      { key: 'developerToken', label: 'Developer token', secret: true },
      { key: 'clientId', label: 'OAuth client ID' },
      { key: 'clientSecret', label: 'OAuth client secret', secret: true },
      { key: 'refreshToken', label: 'OAuth refresh token', secret: true },
      { key: 'apiVersion', label: 'API version', hint: 'e.g. v22' },
    ],
  },
  {
    network: 'tiktok',
    name: 'TikTok (Events API)',
    fields: [
      { key: 'pixelCode', label: 'Pixel code', hint: 'Assets → Events → Web Events' },
      {
        key: 'accessToken',
        label: 'Access token',
        secret: true,
        hint: 'TikTok for Business → Marketing API',
      },
      { key: 'testEventCode', label: 'Test event code', hint: 'Optional' },
    ],
  },
];

const STATUS: Record<Integration['status'], [string, string]> = {
  not_configured: ['Not configured', 'waiting'],
  ok: ['OK', 'ok'],
  failing: ['Failing: recent deliveries failed and are being retried', 'bad'],
  unauthorized: [
    'Unauthorized: the network refused the credentials; forwarding is paused until new ones are saved',
    'bad',
  ],
};

const isSecret = (v: unknown): v is SecretState =>
  typeof v === 'object' && v !== null && 'set' in v;
const secretText = (s: SecretState) => (s.set ? `set (…${s.last4 ?? ''})` : 'not set');

/**
 * Settings → Integrations: Meta, Google Ads and TikTok. Secrets are write-only (shown as set and
 * their last four characters); Test Connection checks the typed or stored credentials without
 * recording a conversion.
 */
export function IntegrationsSettings({ app }: { app: App }) {
  const all = useLoad(
    () => get<One<Record<string, Integration>>>(`/apps/${app.id}/integrations`).then((r) => r.data),
    [app.id],
  );
  return (
    <div>
      <p class="muted">
        Conversions of installs attributed to a network are sent to it server-side, with the click
        id; every send is in the <a href={`/apps/${app.id}/settings/audit-log`}>audit log</a>.
        Sandbox events are never forwarded.
      </p>
      {all.loading && !all.data && <Loading what="Loading integrations" />}
      <ErrorBox error={all.error} />
      {all.data &&
        NETWORKS.map((n) => (
          <IntegrationCard
            key={n.network}
            app={app}
            def={n}
            integration={all.data![n.network]}
            onSaved={all.reload}
          />
        ))}
    </div>
  );
}

function IntegrationCard({
  app,
  def,
  integration: i,
  onSaved,
}: {
  app: App;
  def: NetworkDef;
  integration: Integration;
  onSaved: () => void;
}) {
  const { canEdit } = useSession();
  const [status, statusClass] = STATUS[i.status];
  const base = `/apps/${app.id}/integrations/${def.network}`;
  const [toggleError, setToggleError] = useState<Error | null>(null);
  const toggle = async (enabled: boolean) => {
    setToggleError(null);
    try {
      await patch(base, { enabled });
      onSaved();
    } catch (e) {
      setToggleError(e as Error);
    }
  };
  return (
    <section class="card" aria-labelledby={`h-${def.network}`}>
      <div class="title-row">
        <h2 id={`h-${def.network}`}>{def.name}</h2>
        <span class={`badge ${statusClass}`} data-testid={`status-${def.network}`}>
          {STATUS[i.status][0].split(':')[0]}
        </span>
      </div>
      {(i.status === 'failing' || i.status === 'unauthorized') && (
        <p class={`status ${statusClass}`}>{status}</p>
      )}
      <dl>
        <dt>Forwarding</dt>
        <dd>{i.enabled ? 'enabled' : 'disabled'}</dd>
        <dt>Last delivery</dt>
        <dd>{i.lastDeliveryAt ? dateTime(i.lastDeliveryAt) : 'none yet'}</dd>
        {i.lastError && (
          <>
            <dt>Last error</dt>
            <dd class="bad-text">{i.lastError}</dd>
          </>
        )}
        {!canEdit &&
          def.fields.map((f) => {
            const v = i.settings[f.key];
            return [
              <dt key={`t-${f.key}`}>{f.label}</dt>,
              <dd key={`d-${f.key}`}>
                {isSecret(v) ? secretText(v) : typeof v === 'string' && v ? v : '–'}
              </dd>,
            ];
          })}
      </dl>
      {canEdit && (
        <>
          <Check
            label={`Forward to ${def.name.split(' (')[0]}`}
            name={`${def.network}-enabled`}
            checked={i.enabled}
            onChange={toggle}
          />
          <ErrorBox error={toggleError} />
          <SettingsForm def={def} integration={i} base={base} onSaved={onSaved} />
        </>
      )}
      <details>
        <summary>Event mapping</summary>
        <div class="table-wrap">
          <table>
            <caption>Platform event → the event {def.name.split(' (')[0]} receives</caption>
            <thead>
              <tr>
                <th scope="col">Event</th>
                <th scope="col">Sent as</th>
              </tr>
            </thead>
            <tbody>
              {Object.entries(i.eventMapping).map(([event, sent]) => (
                <tr key={event}>
                  <th scope="row">{event}</th>
                  <td>{sent ?? <span class="muted">not forwarded</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </section>
  );
}

/** "event=id" lines ↔ the Google conversion-action table. */
const actionsText = (v: unknown) =>
  Object.entries((v as Record<string, string>) ?? {})
    .map(([k, id]) => `${k}=${id}`)
    .join('\n');
const parseActions = (text: string) =>
  Object.fromEntries(
    text
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .map((l) => {
        const at = l.indexOf('=');
        return at < 0 ? [l, ''] : [l.slice(0, at).trim(), l.slice(at + 1).trim()];
      }),
  );

type TestResult = { ok: boolean; httpStatus: number | null; message: string };

function SettingsForm({
  def,
  integration: i,
  base,
  onSaved,
}: {
  def: NetworkDef;
  integration: Integration;
  base: string;
  onSaved: () => void;
}) {
  const initial = () =>
    Object.fromEntries(
      def.fields.map((f) => {
        const v = i.settings[f.key];
        return [f.key, f.secret || typeof v !== 'string' ? '' : v];
      }),
    );
  const [values, setValues] = useState<Record<string, string>>(initial);
  const [actions, setActions] = useState(actionsText(i.settings.conversionActions));
  const [saved, setSaved] = useState(false);
  const [test, setTest] = useState<TestResult | null>(null);
  const save = useFormSubmit();
  const tester = useFormSubmit();

  /** Only what changed: a secret when typed, a plain field emptied is cleared (null). */
  const changes = () => {
    const out: Record<string, unknown> = {};
    for (const f of def.fields) {
      const typed = values[f.key].trim();
      const stored = i.settings[f.key];
      if (f.secret) {
        if (typed) out[f.key] = typed;
      } else if (typed !== (typeof stored === 'string' ? stored : '')) out[f.key] = typed || null;
    }
    if (def.network === 'google' && actions !== actionsText(i.settings.conversionActions))
      out.conversionActions = actions.trim() ? parseActions(actions) : null;
    return out;
  };
  return (
    <form
      aria-label={`${def.name} settings`}
      onSubmit={save.submit(async () => {
        setSaved(false);
        await patch(base, { settings: changes() });
        setSaved(true);
        setValues((v) =>
          Object.fromEntries(def.fields.map((f) => [f.key, f.secret ? '' : v[f.key]])),
        );
        onSaved();
      })}
    >
      <div class="grid">
        {def.fields.map((f) => {
          const v = i.settings[f.key];
          return (
            <Field
              key={f.key}
              label={f.label}
              name={`${def.network}-${f.key}`}
              type={f.secret ? 'password' : 'text'}
              autoComplete={f.secret ? 'off' : undefined}
              value={values[f.key]}
              onInput={(x) => setValues({ ...values, [f.key]: x })}
              placeholder={isSecret(v) && v.set ? `••••${v.last4 ?? ''}` : undefined}
              hint={
                f.secret
                  ? `${isSecret(v) ? `Stored: ${secretText(v)}` : ''}. Write-only: type a new value to replace it, leave empty to keep.`
                  : f.hint
              }
            />
          );
        })}
      </div>
      {def.network === 'google' && (
        <div class="field">
          <label for="f-google-conversionActions">Conversion actions</label>
          <textarea
            id="f-google-conversionActions"
            rows={4}
            value={actions}
            aria-describedby="f-google-conversionActions-hint"
            onInput={(e) => setActions((e.target as HTMLTextAreaElement).value)}
          />
          <small id="f-google-conversionActions-hint">
            One per line: <code>event_name=conversion action id</code>, e.g.{' '}
            <code>purchase=123456789</code>
          </small>
        </div>
      )}
      <ErrorBox error={save.error ?? tester.error} />
      {saved && (
        <p class="status ok" role="status">
          Saved.
        </p>
      )}
      {test && (
        <p
          class={`status ${test.ok ? 'ok' : 'bad'}`}
          role="status"
          data-testid={`test-${def.network}`}
        >
          {test.ok ? 'Connection OK' : 'Connection failed'}
          {test.httpStatus !== null && ` (HTTP ${test.httpStatus})`}: {test.message}
        </p>
      )}
      <div class="actions">
        <button type="submit" disabled={save.busy}>
          {save.busy ? 'Saving…' : 'Save'}
        </button>
        <button
          type="button"
          class="secondary"
          disabled={tester.busy}
          onClick={tester.submit(async () => {
            setTest(null);
            const r = await post<One<TestResult>>(`${base}/test`, { settings: changes() });
            setTest(r.data);
          })}
        >
          {tester.busy ? 'Testing…' : 'Test connection'}
        </button>
      </div>
    </form>
  );
}
