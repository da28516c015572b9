import { useEffect, useState } from 'preact/hooks';
import { type App, type EventRow, get, type List, patch } from '../api.ts';
import { dateTime } from '../format.ts';
import { useSession } from '../session.ts';
import { Check, CopyButton, ErrorBox, Field } from '../ui.tsx';
import { RulesFields, rulesBody, rulesOf } from './app-form.tsx';

/** SDK keys, the first-event check, and the app's editable settings. */
export function AppSettings({ app, onSaved }: { app: App; onSaved: () => void }) {
  const { canEdit } = useSession();
  return (
    <div>
      <section class="card">
        <h2>SDK keys</h2>
        <p class="muted">
          The live key for the App Store and Play builds; the test key for development builds (their
          data stays in Sandbox).
        </p>
        <dl>
          <dt>Live</dt>
          <dd>
            <code>{app.sdkKeys.live}</code> <CopyButton text={app.sdkKeys.live} />
          </dd>
          <dt>Test</dt>
          <dd>
            <code>{app.sdkKeys.test}</code> <CopyButton text={app.sdkKeys.test} />
          </dd>
          <dt>Server</dt>
          <dd>
            <code>{location.origin}</code> <CopyButton text={location.origin} />
          </dd>
        </dl>
        <p class="muted">
          The released SDKs have their two server addresses built in: point them at this server as{' '}
          <code>docs/sdk-setup.md</code> in the AppRefer source describes — for Flutter, iOS,
          Android and server-to-server callers, the exact constants to change per SDK version.
        </p>
        <FirstEvent app={app} />
      </section>
      {canEdit && <EditApp app={app} onSaved={onSaved} />}
    </div>
  );
}

/** Turns green when the first install (the SDK's first configure) of a live or test device arrives. */
function FirstEvent({ app }: { app: App }) {
  const [seen, setSeen] = useState<EventRow | null>(null);
  useEffect(() => {
    let stopped = false;
    let timer: number | undefined;
    const check = async () => {
      for (const environment of ['sandbox', 'live']) {
        const r = await get<List<EventRow>>(
          `/apps/${app.id}/events?environment=${environment}&eventName=install&limit=1`,
        ).catch(() => null);
        if (stopped) return;
        if (r?.data[0]) return setSeen(r.data[0]);
      }
      timer = window.setTimeout(check, 2_000);
    };
    void check();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [app.id]);
  return seen ? (
    <p class="status ok" role="status">
      First install received from device <code>{seen.deviceId}</code> ({seen.environment}) at{' '}
      {dateTime(seen.receivedAt)}.
    </p>
  ) : (
    <p class="status waiting" role="status">
      Waiting for the first install: start your app with the SDK pointed at this server.
    </p>
  );
}

function EditApp({ app, onSaved }: { app: App; onSaved: () => void }) {
  const [name, setName] = useState(app.name);
  const [timezone, setTimezone] = useState(app.timezone);
  const [currency, setCurrency] = useState(app.currency);
  const [sdkEnabled, setSdkEnabled] = useState(app.sdkEnabled);
  const [rules, setRules] = useState(rulesOf(app));
  const [error, setError] = useState<Error | null>(null);
  const [saved, setSaved] = useState(false);
  const save = async (body: Record<string, unknown>) => {
    setError(null);
    setSaved(false);
    try {
      await patch(`/apps/${app.id}`, body);
      setSaved(true);
      onSaved();
    } catch (e) {
      setError(e as Error);
    }
  };
  return (
    <form
      class="card"
      aria-label="App settings"
      onSubmit={(e) => {
        e.preventDefault();
        void save({ name, timezone, currency, sdkEnabled, ...rulesBody(rules) });
      }}
    >
      <h2>Settings</h2>
      <div class="grid">
        <Field label="Name" name="appName" value={name} onInput={setName} required />
        <Field label="Time zone" name="appTimezone" value={timezone} onInput={setTimezone} />
        <Field label="Currency" name="appCurrency" value={currency} onInput={setCurrency} />
        <Check
          label="SDK enabled"
          name="sdkEnabled"
          checked={sdkEnabled}
          onChange={setSdkEnabled}
          hint="Off: the SDKs stop sending (kill switch)."
        />
      </div>
      <RulesFields value={rules} onChange={setRules} prefix="app-" />
      <ErrorBox error={error} />
      {saved && <p role="status">Saved.</p>}
      <div class="actions">
        <button type="submit">Save</button>
        {!app.archived && (
          <button type="button" class="secondary" onClick={() => save({ archived: true })}>
            Archive app
          </button>
        )}
      </div>
    </form>
  );
}
