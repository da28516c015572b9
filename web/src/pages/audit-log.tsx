import { useState } from 'preact/hooks';
import { type App, type Delivery, get, type List, type One, post, query } from '../api.ts';
import { dateTime } from '../format.ts';
import { useSession } from '../session.ts';
import { ErrorBox, json, Loading, Select, useCursorPages, useLoad } from '../ui.tsx';

const PAGE = 50;
const RETRYABLE = new Set(['failed', 'skipped']);

/**
 * The forwarding audit log: one delivery per event and network, newest first, with its request
 * (secrets removed), the network's answer and the error. Failed and skipped ones can be sent again.
 */
export function AuditLog({ app }: { app: App }) {
  const { canEdit } = useSession();
  const [network, setNetwork] = useState('');
  const [status, setStatus] = useState('');
  const { cursor, reset, pager } = useCursorPages();
  const rows = useLoad(
    () =>
      get<List<Delivery>>(
        `/apps/${app.id}/integrations/deliveries${query({ network, status, limit: PAGE, cursor })}`,
      ),
    [app.id, network, status, cursor],
  );
  const [retried, setRetried] = useState<Record<string, Delivery | Error>>({});
  const retry = async (d: Delivery) => {
    try {
      const r = await post<One<Delivery>>(`/apps/${app.id}/integrations/deliveries/${d.id}/retry`);
      setRetried((x) => ({ ...x, [d.id]: r.data }));
    } catch (e) {
      setRetried((x) => ({ ...x, [d.id]: e as Error }));
    }
  };
  return (
    <div>
      <form class="filters" aria-label="Audit log filters" onSubmit={(e) => e.preventDefault()}>
        <Select
          label="Network"
          name="auditNetwork"
          value={network}
          options={[
            ['', 'All networks'],
            ['meta', 'Meta'],
            ['google', 'Google Ads'],
            ['tiktok', 'TikTok'],
          ]}
          onChange={(v) => (setNetwork(v), reset())}
        />
        <Select
          label="Status"
          name="auditStatus"
          value={status}
          options={[
            ['', 'Every status'],
            ['pending', 'Pending'],
            ['retrying', 'Retrying'],
            ['delivered', 'Delivered'],
            ['failed', 'Failed'],
            ['skipped', 'Skipped'],
          ]}
          onChange={(v) => (setStatus(v), reset())}
        />
      </form>
      <ErrorBox error={rows.error} />
      {rows.loading && <Loading what="Loading deliveries" />}
      {rows.data && rows.data.data.length === 0 && (
        <p class="muted">No deliveries{network || status ? ' match these filters' : ' yet'}.</p>
      )}
      {rows.data && rows.data.data.length > 0 && (
        <>
          <ul class="events">
            {rows.data.data.map((d) => {
              const again = retried[d.id];
              const shown = again && !(again instanceof Error) ? again : d;
              return (
                <li key={d.id} data-delivery={d.id}>
                  <details>
                    <summary>
                      <span class="event-name">{shown.eventName}</span>
                      <span>
                        → {shown.network}
                        {shown.networkEventName ? ` ${shown.networkEventName}` : ''}
                      </span>
                      <span class={`tag st-${shown.status}`}>{shown.status}</span>
                      <span class="muted">
                        {shown.attempts} attempt{shown.attempts === 1 ? '' : 's'}
                        {shown.httpStatus !== null && ` · HTTP ${shown.httpStatus}`}
                      </span>
                      <span class="muted">{dateTime(shown.createdAt)}</span>
                    </summary>
                    <dl>
                      <dt>Event</dt>
                      <dd>
                        <code>{shown.eventId}</code>
                      </dd>
                      {shown.nextAttemptAt && (
                        <>
                          <dt>Next attempt</dt>
                          <dd>{dateTime(shown.nextAttemptAt)}</dd>
                        </>
                      )}
                      {shown.deliveredAt && (
                        <>
                          <dt>Delivered</dt>
                          <dd>{dateTime(shown.deliveredAt)}</dd>
                        </>
                      )}
                      <dt>Request</dt>
                      <dd>
                        <pre>{json(shown.request)}</pre>
                      </dd>
                      <dt>Response</dt>
                      <dd>
                        <pre>{json(shown.response)}</pre>
                      </dd>
                    </dl>
                  </details>
                  {shown.error && (
                    <p class="bad-text delivery-error">
                      <strong>Error:</strong> {shown.error}
                    </p>
                  )}
                  {canEdit && RETRYABLE.has(d.status) && !(again && !(again instanceof Error)) && (
                    <div class="delivery-actions">
                      <button
                        type="button"
                        class="small secondary"
                        aria-label={`Retry the ${d.network} delivery of ${d.eventName}`}
                        onClick={() => retry(d)}
                      >
                        Retry
                      </button>
                    </div>
                  )}
                  {again && (
                    <div class="delivery-actions">
                      {again instanceof Error ? (
                        <ErrorBox error={again} />
                      ) : (
                        <p class="status ok" role="status">
                          Queued again: {again.status}
                          {again.nextAttemptAt && `, next attempt ${dateTime(again.nextAttemptAt)}`}
                          .
                        </p>
                      )}
                    </div>
                  )}
                </li>
              );
            })}
          </ul>
          {pager(rows.data.meta)}
        </>
      )}
    </div>
  );
}
