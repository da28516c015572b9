import { useState } from 'preact/hooks';
import {
  type App,
  get,
  type List,
  type One,
  patch,
  type QualifiedTrial,
  query,
  type RevenueCatWebhook,
  type SuperwallWebhook,
} from '../api.ts';
import { dateTime } from '../format.ts';
import { useSession } from '../session.ts';
import {
  Check,
  CopyButton,
  ErrorBox,
  Field,
  Loading,
  Select,
  useCursorPages,
  useFormSubmit,
  useLoad,
} from '../ui.tsx';

const secretText = (s: { set: boolean; last4: string | null }) =>
  s.set ? `set (…${s.last4 ?? ''})` : 'not set';

/**
 * Settings → Subscription webhooks: RevenueCat (the platform generates the Authorization secret,
 * shown once) and Superwall (its whsec_… signing secret pasted in). docs/webhooks.md.
 */
export function WebhookSettings({ app }: { app: App }) {
  const base = `/apps/${app.id}/integrations`;
  const rc = useLoad(() => get<One<RevenueCatWebhook>>(`${base}/revenuecat`), [app.id]);
  const sw = useLoad(() => get<One<SuperwallWebhook>>(`${base}/superwall`), [app.id]);
  return (
    <div>
      <p class="muted">
        With RevenueCat or Superwall connected, their webhooks are the revenue source: renewals,
        refunds and trials are recorded on the device that installed the app and forwarded to its ad
        network; client purchase events are still logged but not counted twice. Set the subscriber
        attribute <code>appreferId</code> to the SDK's device id right after configure.
      </p>
      {(rc.loading || sw.loading) && !(rc.data && sw.data) && <Loading what="Loading webhooks" />}
      <ErrorBox error={rc.error ?? sw.error} />
      {rc.data && <RevenueCatCard url={`${base}/revenuecat`} hook={rc.data.data} />}
      {sw.data && (
        <SuperwallCard url={`${base}/superwall`} hook={sw.data.data} onSaved={sw.reload} />
      )}
    </div>
  );
}

function RevenueCatCard({ url, hook }: { url: string; hook: RevenueCatWebhook }) {
  const { canEdit } = useSession();
  const [current, setCurrent] = useState(hook);
  const [error, setError] = useState<Error | null>(null);
  const change = async (body: object) => {
    setError(null);
    try {
      setCurrent((await patch<One<RevenueCatWebhook>>(url, body)).data);
    } catch (e) {
      setError(e as Error);
    }
  };
  const secret = current.authorization.value;
  return (
    <section class="card" aria-labelledby="h-revenuecat">
      <div class="title-row">
        <h2 id="h-revenuecat">RevenueCat</h2>
        <span class={`badge ${current.enabled ? 'ok' : 'waiting'}`}>
          {current.enabled ? 'Enabled' : 'Off'}
        </span>
      </div>
      <dl>
        <dt>Webhook URL</dt>
        <dd>
          <code>{current.webhookUrl}</code> <CopyButton text={current.webhookUrl} />
        </dd>
        <dt>Authorization header</dt>
        <dd>{secretText(current.authorization)}</dd>
      </dl>
      {secret && (
        <div class="status ok" role="status">
          <p>
            Paste this as the webhook's Authorization header value in RevenueCat (Project Settings →
            Integrations → Webhooks). It is shown only now.
          </p>
          <code data-testid="revenuecat-secret">{secret}</code> <CopyButton text={secret} />
        </div>
      )}
      {canEdit && (
        <>
          <Check
            label="Receive RevenueCat webhooks"
            name="revenuecat-enabled"
            checked={current.enabled}
            onChange={(enabled) => change({ enabled })}
            hint="Enabling it the first time generates the secret"
          />
          {current.authorization.set && (
            <button type="button" class="secondary" onClick={() => change({ rotateSecret: true })}>
              Generate a new secret
            </button>
          )}
        </>
      )}
      <ErrorBox error={error} />
    </section>
  );
}

function SuperwallCard({
  url,
  hook,
  onSaved,
}: {
  url: string;
  hook: SuperwallWebhook;
  onSaved: () => void;
}) {
  const { canEdit } = useSession();
  const [secret, setSecret] = useState('');
  const [enabled, setEnabled] = useState(hook.enabled);
  const [saved, setSaved] = useState(false);
  const { busy, error, submit } = useFormSubmit();
  return (
    <section class="card" aria-labelledby="h-superwall">
      <div class="title-row">
        <h2 id="h-superwall">Superwall</h2>
        <span class={`badge ${hook.enabled ? 'ok' : 'waiting'}`}>
          {hook.enabled ? 'Enabled' : 'Off'}
        </span>
      </div>
      <dl>
        <dt>Webhook URL</dt>
        <dd>
          <code>{hook.webhookUrl}</code> <CopyButton text={hook.webhookUrl} />
        </dd>
        <dt>Signing secret</dt>
        <dd>{secretText(hook.signingSecret)}</dd>
      </dl>
      {canEdit && (
        <form
          aria-label="Superwall settings"
          onSubmit={submit(async () => {
            setSaved(false);
            await patch(url, { enabled, ...(secret ? { signingSecret: secret } : {}) });
            setSecret('');
            setSaved(true);
            onSaved();
          })}
        >
          <Field
            label="Signing secret"
            name="superwall-secret"
            type="password"
            autoComplete="off"
            value={secret}
            onInput={setSecret}
            placeholder={hook.signingSecret.set ? 'unchanged' : 'whsec_…'}
            hint="The whsec_… secret Superwall shows for this webhook; write-only"
          />
          <Check
            label="Receive Superwall webhooks"
            name="superwall-enabled"
            checked={enabled}
            onChange={setEnabled}
          />
          <ErrorBox error={error} />
          {saved && (
            <p class="status ok" role="status">
              Saved.
            </p>
          )}
          <div class="actions">
            <button type="submit" disabled={busy}>
              {busy ? 'Saving…' : 'Save'}
            </button>
          </div>
        </form>
      )}
    </section>
  );
}

const PAGE = 50;

/** Settings → Qualified trials: held, qualified, disqualified and forwarded trial starts. */
export function QualifiedTrials({ app }: { app: App }) {
  const [status, setStatus] = useState('');
  const { cursor, reset, pager } = useCursorPages();
  const rows = useLoad(
    () =>
      get<List<QualifiedTrial>>(
        `/apps/${app.id}/qualified-trials${query({ status, limit: PAGE, cursor })}`,
      ),
    [app.id, status, cursor],
  );
  const q = app.qualifiedTrials;
  return (
    <div>
      <p class="muted">
        {q.enabled
          ? `On: a webhook trial start is held ${q.delayHours} h; still active then, it is forwarded as a qualified trial. A cancellation, expiration or refund during the hold disqualifies it.`
          : 'Off: trial starts are forwarded at once. Turn it on, and set the delay, under General.'}
      </p>
      <form
        class="filters"
        aria-label="Qualified trial filters"
        onSubmit={(e) => e.preventDefault()}
      >
        <Select
          label="Status"
          name="trialStatus"
          value={status}
          options={[
            ['', 'Every status'],
            ['held', 'Held'],
            ['forwarded', 'Forwarded'],
            ['qualified', 'Qualified (nothing to forward)'],
            ['disqualified', 'Disqualified'],
          ]}
          onChange={(v) => (setStatus(v), reset())}
        />
      </form>
      <ErrorBox error={rows.error} />
      {rows.loading && <Loading what="Loading qualified trials" />}
      {rows.data && rows.data.data.length === 0 && (
        <p class="muted">No trials{status ? ' with this status' : ' yet'}.</p>
      )}
      {rows.data && rows.data.data.length > 0 && (
        <>
          <div class="table-wrap">
            <table>
              <caption class="sr-only">Qualified trials, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Started</th>
                  <th scope="col">Status</th>
                  <th scope="col">Product</th>
                  <th scope="col">Network</th>
                  <th scope="col">Due</th>
                  <th scope="col">Decided</th>
                  <th scope="col">Reason</th>
                </tr>
              </thead>
              <tbody>
                {rows.data.data.map((t) => (
                  <tr key={t.id} data-trial={t.id}>
                    <td>{dateTime(t.startedAt)}</td>
                    <td>
                      <span class={`tag st-${t.status}`}>{t.status}</span>
                    </td>
                    <td>{t.productId ?? '–'}</td>
                    <td>
                      {t.attribution.network ?? 'none'}
                      {t.attribution.campaign ? ` / ${t.attribution.campaign}` : ''}
                    </td>
                    <td>{dateTime(t.dueAt)}</td>
                    <td>{t.decidedAt ? dateTime(t.decidedAt) : '–'}</td>
                    <td>{t.reason ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {pager(rows.data.meta)}
        </>
      )}
    </div>
  );
}
