import { useState } from 'preact/hooks';
import { type App, get, type List, query } from '../api.ts';
import { dateTime, lastDays } from '../format.ts';
import { ErrorBox, Loading, Select, useLoad, useCursorPages } from '../ui.tsx';

type Attribution = {
  id: string;
  deviceId: string;
  platform: string;
  network: string;
  matchType: string;
  campaign: string | null;
  linkId: string | null;
  installedAt: string;
  country: string | null;
  reinstall: boolean;
  explanation: Record<string, unknown>;
};

/** Each install with why it went to its network (the attribution rule and what it matched). */
export function AttributionsTab({ app }: { app: App }) {
  const [environment, setEnvironment] = useState('live');
  const { cursor, reset, pager } = useCursorPages();
  const list = useLoad(
    () =>
      get<List<Attribution>>(
        `/apps/${app.id}/attributions${query({ ...lastDays(90), environment, limit: 50, cursor })}`,
      ),
    [app.id, environment, cursor],
  );
  return (
    <div>
      <form class="filters" aria-label="Attribution options" onSubmit={(e) => e.preventDefault()}>
        <Select
          label="Data"
          name="attributionsEnvironment"
          value={environment}
          options={[
            ['live', 'Live'],
            ['sandbox', 'Sandbox'],
          ]}
          onChange={(v) => (setEnvironment(v), reset())}
        />
      </form>
      <ErrorBox error={list.error} />
      {list.loading && <Loading what="Loading installs" />}
      {list.data?.data.length === 0 && <p>No installs in the last 90 days.</p>}
      <ul class="events">
        {list.data?.data.map((a) => (
          <li key={a.id}>
            <details>
              <summary>
                <span class="event-name">{a.network}</span>
                <span>{a.matchType}</span>
                <span class="muted">{a.campaign ?? ''}</span>
                <span class="muted">
                  {a.platform}
                  {a.country ? ` · ${a.country}` : ''}
                  {a.reinstall ? ' · reinstall' : ''}
                </span>
                <span class="muted">{dateTime(a.installedAt)}</span>
              </summary>
              <dl>
                <dt>Device</dt>
                <dd>
                  <code>{a.deviceId}</code>
                </dd>
                {a.linkId && (
                  <>
                    <dt>Link</dt>
                    <dd>{a.linkId}</dd>
                  </>
                )}
                <dt>Why</dt>
                <dd>
                  <pre>{JSON.stringify(a.explanation, null, 2)}</pre>
                </dd>
              </dl>
            </details>
          </li>
        ))}
      </ul>
      {list.data && pager(list.data.meta)}
    </div>
  );
}
