import { useEffect, useState } from 'preact/hooks';
import { ApiError, type App, get, type List, type One, put, query } from '../api.ts';
import { dateTime } from '../format.ts';
import { useSession } from '../session.ts';
import { ErrorBox, json, Loading, Select, useCursorPages, useFormSubmit, useLoad } from '../ui.tsx';

type Condition = { event: string; revenueMin?: number; revenueMax?: number };
type SkanSchema = {
  version: number;
  revision: number;
  currency: string;
  fine: { value: number; when: Condition }[];
  coarse: { window: number; value: string; when: Condition }[];
  lock: { window: number; when: Condition }[];
  campaigns: Record<string, { network: string; campaign?: string | null }>;
  updatedAt: string | null;
};
type Postback = {
  id: string;
  kind: string;
  version: string | null;
  verified: boolean;
  unverifiedReason: string | null;
  sandbox: boolean;
  sourceIdentifier: string | null;
  network: string | null;
  campaign: string | null;
  window: number | null;
  fineValue: number | null;
  coarseValue: string | null;
  decoded: { events: string[]; revenueMin: number | null; revenueMax: number | null } | null;
  receivedAt: string;
  raw: unknown;
};

const WINDOWS = ['days 0–2', 'days 3–7', 'days 8–35'];
const editable = (s: SkanSchema) =>
  json({ fine: s.fine, coarse: s.coarse, lock: s.lock, campaigns: s.campaigns });
const when = (c: Condition, currency: string) =>
  `${c.event}${c.revenueMin !== undefined || c.revenueMax !== undefined ? ` with revenue ${c.revenueMin ?? 0}–${c.revenueMax ?? '∞'} ${currency}` : ''}`;

/** Settings → SKAN: the conversion-value schema (view, edit as JSON) and the received postbacks. */
export function SkanSettings({ app }: { app: App }) {
  const schema = useLoad(
    () => get<One<SkanSchema>>(`/apps/${app.id}/skan`).then((r) => r.data),
    [app.id],
  );
  return (
    <div>
      <p class="muted">
        How in-app events and revenue map to SKAdNetwork conversion values: fine values 0–63 (first
        window), coarse values per window, when to lock a window, and which network and campaign a
        source identifier stands for. The highest matching value wins.
      </p>
      {schema.loading && !schema.data && <Loading what="Loading the SKAN schema" />}
      <ErrorBox error={schema.error} />
      {schema.data && <SchemaView s={schema.data} />}
      {schema.data && <SchemaEditor app={app} s={schema.data} onSaved={schema.reload} />}
      <Postbacks app={app} />
    </div>
  );
}

function SchemaView({ s }: { s: SkanSchema }) {
  const campaigns = Object.entries(s.campaigns);
  return (
    <section class="card" aria-labelledby="skan-schema">
      <h2 id="skan-schema">Schema</h2>
      <p class="muted" data-testid="skan-revision">
        Revision {s.revision}
        {s.updatedAt ? `, saved ${dateTime(s.updatedAt)}` : ' (nothing saved yet)'}; revenue in{' '}
        {s.currency}.
      </p>
      <div class="table-wrap">
        <table>
          <caption>Conversion values</caption>
          <thead>
            <tr>
              <th scope="col">Kind</th>
              <th scope="col">Window</th>
              <th scope="col">Value</th>
              <th scope="col">When</th>
            </tr>
          </thead>
          <tbody>
            {s.fine.map((r, i) => (
              <tr key={`f${i}`}>
                <th scope="row">fine</th>
                <td>{WINDOWS[0]}</td>
                <td class="num">{r.value}</td>
                <td>{when(r.when, s.currency)}</td>
              </tr>
            ))}
            {s.coarse.map((r, i) => (
              <tr key={`c${i}`}>
                <th scope="row">coarse</th>
                <td>{WINDOWS[r.window]}</td>
                <td>{r.value}</td>
                <td>{when(r.when, s.currency)}</td>
              </tr>
            ))}
            {s.lock.map((r, i) => (
              <tr key={`l${i}`}>
                <th scope="row">lock</th>
                <td>{WINDOWS[r.window]}</td>
                <td>–</td>
                <td>{when(r.when, s.currency)}</td>
              </tr>
            ))}
            {s.fine.length + s.coarse.length + s.lock.length === 0 && (
              <tr>
                <td colSpan={4} class="muted">
                  No rules yet.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      {campaigns.length > 0 && (
        <div class="table-wrap spaced">
          <table>
            <caption>Source identifiers</caption>
            <thead>
              <tr>
                <th scope="col">Source identifier</th>
                <th scope="col">Network</th>
                <th scope="col">Campaign</th>
              </tr>
            </thead>
            <tbody>
              {campaigns.map(([k, c]) => (
                <tr key={k}>
                  <th scope="row">{k}</th>
                  <td>{c.network}</td>
                  <td>{c.campaign ?? '–'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function SchemaEditor({ app, s, onSaved }: { app: App; s: SkanSchema; onSaved: () => void }) {
  const { canEdit } = useSession();
  const [text, setText] = useState(editable(s));
  const [saved, setSaved] = useState<number | null>(null);
  const { busy, error, submit } = useFormSubmit();
  useEffect(() => setText(editable(s)), [s]);
  if (!canEdit) return null;
  const save = async () => {
    setSaved(null);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (e) {
      throw new ApiError(400, 'validation_error', `Not valid JSON: ${(e as Error).message}`);
    }
    const r = await put<One<SkanSchema>>(`/apps/${app.id}/skan`, body);
    setSaved(r.data.revision);
    onSaved();
  };
  return (
    <form class="card" aria-label="Edit the SKAN schema" onSubmit={submit(save)}>
      <h2>Edit</h2>
      <div class="field">
        <label for="f-skanSchema">Schema (JSON)</label>
        <textarea
          id="f-skanSchema"
          class="code"
          rows={16}
          spellcheck={false}
          value={text}
          aria-describedby="f-skanSchema-hint"
          onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
        />
        <small id="f-skanSchema-hint">
          Replaces the whole schema; earlier revisions stay to decode earlier postbacks. Example
          rule: <code>{'{"value": 20, "when": {"event": "purchase", "revenueMin": 0.01}}'}</code>. A
          mistake is named by its path, e.g. <code>fine.2.value</code>.
        </small>
      </div>
      <ErrorBox error={error} />
      {saved !== null && (
        <p class="status ok" role="status">
          Saved as revision {saved}.
        </p>
      )}
      <div class="actions">
        <button type="submit" disabled={busy}>
          {busy ? 'Saving…' : 'Save schema'}
        </button>
        <button type="button" class="secondary" onClick={() => setText(editable(s))}>
          Discard changes
        </button>
      </div>
    </form>
  );
}

function Postbacks({ app }: { app: App }) {
  const [verified, setVerified] = useState('');
  const { cursor, reset, pager } = useCursorPages();
  const rows = useLoad(
    () =>
      get<List<Postback>>(
        `/apps/${app.id}/skan/postbacks${query({ verified, limit: 50, cursor })}`,
      ),
    [app.id, verified, cursor],
  );
  return (
    <section aria-labelledby="skan-postbacks">
      <h2 id="skan-postbacks" class="spaced">
        Postbacks
      </h2>
      <p class="muted">
        Apple posts a copy of each postback to{' '}
        <code>{location.origin}/.well-known/skadnetwork/report-attribution/</code> when the app's
        Info.plist names this server in <code>NSAdvertisingAttributionReportEndpoint</code>.
      </p>
      <form class="filters" aria-label="Postback filters" onSubmit={(e) => e.preventDefault()}>
        <Select
          label="Signature"
          name="postbackVerified"
          value={verified}
          options={[
            ['', 'Any'],
            ['true', 'Verified'],
            ['false', 'Not verified'],
          ]}
          onChange={(v) => (setVerified(v), reset())}
        />
      </form>
      <ErrorBox error={rows.error} />
      {rows.loading && <Loading what="Loading postbacks" />}
      {rows.data && rows.data.data.length === 0 && <p class="muted">No postbacks yet.</p>}
      {rows.data && rows.data.data.length > 0 && (
        <>
          <ul class="events">
            {rows.data.data.map((p) => (
              <li key={p.id}>
                <details>
                  <summary>
                    <span class="event-name">
                      {p.network ?? 'unknown network'}
                      {p.campaign ? ` · ${p.campaign}` : ''}
                    </span>
                    <span>window {p.window ?? '–'}</span>
                    <span>
                      {p.fineValue !== null
                        ? `fine ${p.fineValue}`
                        : `coarse ${p.coarseValue ?? '–'}`}
                    </span>
                    <span class={`tag ${p.verified ? 'st-delivered' : 'st-failed'}`}>
                      {p.verified ? 'verified' : 'not verified'}
                    </span>
                    {p.sandbox && <span class="tag">test</span>}
                    <span class="muted">{dateTime(p.receivedAt)}</span>
                  </summary>
                  <dl>
                    <dt>Source identifier</dt>
                    <dd>{p.sourceIdentifier ?? '–'}</dd>
                    <dt>Decoded</dt>
                    <dd>
                      {p.decoded
                        ? `${p.decoded.events.join(', ') || 'no event'}${p.decoded.revenueMin !== null ? `, revenue ${p.decoded.revenueMin}–${p.decoded.revenueMax ?? '∞'}` : ''}`
                        : '–'}
                    </dd>
                    {p.unverifiedReason && (
                      <>
                        <dt>Not verified because</dt>
                        <dd>{p.unverifiedReason}</dd>
                      </>
                    )}
                    <dt>Raw</dt>
                    <dd>
                      <pre>{json(p.raw)}</pre>
                    </dd>
                  </dl>
                </details>
              </li>
            ))}
          </ul>
          {pager(rows.data.meta)}
        </>
      )}
    </section>
  );
}
