import { useEffect, useState } from 'preact/hooks';
import { type App, type EventRow, get, type List, query } from '../api.ts';
import { dateTime, money } from '../format.ts';
import { ErrorBox, Field, Loading, Select } from '../ui.tsx';

/** How often live mode asks for new events: an event shows within two seconds of its arrival. */
const LIVE_POLL_MS = 1_500;

/**
 * The event log and debugger. Live mode polls the public events endpoint (no private channel, works
 * through any proxy): a developer integrating the SDK watches their test device's events arrive.
 */
export function EventsTab({ app }: { app: App }) {
  const [environment, setEnvironment] = useState('live');
  const [eventName, setEventName] = useState('');
  const [deviceId, setDeviceId] = useState('');
  const [live, setLive] = useState(true);
  const [rows, setRows] = useState<EventRow[] | null>(null);
  const [fresh, setFresh] = useState<Set<string>>(new Set());
  const [error, setError] = useState<Error | null>(null);

  useEffect(() => {
    let stopped = false;
    let timer: number | undefined;
    let known: Set<string> | null = null;
    setRows(null);
    const load = async () => {
      try {
        const r = await get<List<EventRow>>(
          `/apps/${app.id}/events${query({ environment, eventName, deviceId, limit: 100 })}`,
        );
        if (stopped) return;
        const ids = new Set(r.data.map((e) => e.id));
        setFresh(known ? new Set([...ids].filter((id) => !known!.has(id))) : new Set());
        known = ids;
        setRows(r.data);
        setError(null);
      } catch (e) {
        if (!stopped) setError(e as Error);
      }
      if (!stopped && live) timer = window.setTimeout(load, LIVE_POLL_MS);
    };
    void load();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [app.id, environment, eventName, deviceId, live]);

  return (
    <div>
      <form class="filters" aria-label="Event filters" onSubmit={(e) => e.preventDefault()}>
        <Select
          label="Data"
          name="eventsEnvironment"
          value={environment}
          options={[
            ['live', 'Live'],
            ['sandbox', 'Sandbox (test devices)'],
          ]}
          onChange={setEnvironment}
        />
        <Field
          label="Event name"
          name="eventName"
          value={eventName}
          onInput={setEventName}
          placeholder="purchase"
        />
        <Field label="Device id" name="deviceId" value={deviceId} onInput={setDeviceId} />
        <div class="field">
          <label for="f-live">
            <input
              id="f-live"
              type="checkbox"
              checked={live}
              onChange={(e) => setLive((e.target as HTMLInputElement).checked)}
            />{' '}
            Live
          </label>
          <small>{live ? 'New events appear as they arrive' : 'Paused'}</small>
        </div>
      </form>
      <ErrorBox error={error} />
      {rows === null && !error && <Loading what="Loading events" />}
      {rows?.length === 0 && (
        <p>No events yet. Events sent by the SDK appear here within two seconds.</p>
      )}
      <ul class="events" aria-live="polite">
        {rows?.map((e) => (
          <li key={e.id} class={fresh.has(e.id) ? 'fresh' : undefined}>
            <details>
              <summary>
                <span class="event-name">{e.eventName}</span>
                <span class="muted">{e.source}</span>
                <span>
                  {e.attribution
                    ? `${e.attribution.network}${e.attribution.campaign ? ` / ${e.attribution.campaign}` : ''}`
                    : 'unattributed'}
                </span>
                {e.revenue && <span>{money(e.revenue)}</span>}
                <span class="muted">{dateTime(e.receivedAt)}</span>
              </summary>
              <dl>
                <dt>Device</dt>
                <dd>
                  {e.deviceId ? (
                    <code>{e.deviceId}</code>
                  ) : (
                    'none yet (a webhook event not matched)'
                  )}
                </dd>
                {e.userId && (
                  <>
                    <dt>User</dt>
                    <dd>
                      <code>{e.userId}</code>
                    </dd>
                  </>
                )}
                <dt>Attribution</dt>
                <dd>
                  <pre>{JSON.stringify(e.attribution, null, 2)}</pre>
                </dd>
                <dt>Properties</dt>
                <dd>
                  <pre>{JSON.stringify(e.properties, null, 2)}</pre>
                </dd>
                <dt>Occurred</dt>
                <dd>{dateTime(e.occurredAt)}</dd>
                {e.flags.length > 0 && (
                  <>
                    <dt>Flags</dt>
                    <dd>{e.flags.join(', ')}</dd>
                  </>
                )}
                {e.forwarding.length > 0 && (
                  <>
                    <dt>Forwarding</dt>
                    <dd>
                      <ul class="plain">
                        {e.forwarding.map((f) => (
                          <li key={f.network}>
                            {f.network}
                            {f.networkEventName ? ` ${f.networkEventName}` : ''}:{' '}
                            <span class={`tag st-${f.status}`}>{f.status}</span>
                            {f.error && <span class="muted"> — {f.error}</span>}
                          </li>
                        ))}
                      </ul>
                    </dd>
                  </>
                )}
              </dl>
            </details>
          </li>
        ))}
      </ul>
    </div>
  );
}
