import { useState } from 'preact/hooks';
import { get, type App, type Kpis, type List, type One, post, query } from '../api.ts';
import { count, lastDays, money, percent } from '../format.ts';
import { useSession } from '../session.ts';
import { CreateActions, ErrorBox, Field, Loading, useLoad, useFormSubmit } from '../ui.tsx';
import { DEFAULT_RULES, RulesFields, rulesBody } from './app-form.tsx';

type Portfolio = { data: { apps: { appId: string; kpis: Kpis }[] } };

/** Every app with its last 7 days; a form to add one. */
export function AppsPage() {
  const { canEdit } = useSession();
  const [creating, setCreating] = useState(false);
  const apps = useLoad(async () => {
    const [list, portfolio] = await Promise.all([
      get<List<App>>('/apps?limit=200'),
      get<Portfolio>(`/portfolio${query(lastDays(7))}`),
    ]);
    const kpis = new Map(portfolio.data.apps.map((a) => [a.appId, a.kpis]));
    return list.data.map((app) => ({ app, kpis: kpis.get(app.id) ?? null }));
  }, []);

  return (
    <section>
      <div class="title-row">
        <h1>Apps</h1>
        {canEdit && !creating && (
          <button type="button" onClick={() => setCreating(true)}>
            New app
          </button>
        )}
      </div>
      {creating && (
        <CreateApp
          onDone={() => (setCreating(false), apps.reload())}
          onCancel={() => setCreating(false)}
        />
      )}
      {apps.loading && <Loading what="Loading apps" />}
      <ErrorBox error={apps.error} />
      {apps.data && apps.data.length === 0 && (
        <p>No apps yet{canEdit ? ': create the first one.' : '.'}</p>
      )}
      {apps.data && apps.data.length > 0 && (
        <div class="table-wrap">
          <table>
            <caption>Last 7 days</caption>
            <thead>
              <tr>
                <th scope="col">App</th>
                <th scope="col" class="num">
                  Clicks
                </th>
                <th scope="col" class="num">
                  Installs
                </th>
                <th scope="col" class="num">
                  Attributed
                </th>
                <th scope="col" class="num">
                  Click → install
                </th>
                <th scope="col" class="num">
                  Revenue
                </th>
              </tr>
            </thead>
            <tbody>
              {apps.data.map(({ app, kpis }) => (
                <tr key={app.id}>
                  <th scope="row">
                    <a href={`/apps/${app.id}`}>{app.name}</a>
                    {app.archived && <span class="tag">archived</span>}
                  </th>
                  <td class="num">{count(kpis?.clicks)}</td>
                  <td class="num">{count(kpis?.installs)}</td>
                  <td class="num">{count(kpis?.attributedInstalls)}</td>
                  <td class="num">{percent(kpis?.clickToInstallRate)}</td>
                  <td class="num">{money(kpis?.revenue)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function CreateApp({ onDone, onCancel }: { onDone: () => void; onCancel: () => void }) {
  const [f, setF] = useState({
    name: '',
    bundleId: '',
    appStoreId: '',
    packageName: '',
    timezone: 'UTC',
    currency: 'USD',
  });
  const [rules, setRules] = useState(DEFAULT_RULES);
  const { busy, error, submit } = useFormSubmit();
  const set = (k: keyof typeof f) => (v: string) => setF({ ...f, [k]: v });
  const create = async () => {
    await post<One<App>>('/apps', {
      name: f.name,
      ios: f.bundleId ? { bundleId: f.bundleId, appStoreId: f.appStoreId || null } : null,
      android: f.packageName ? { packageName: f.packageName } : null,
      timezone: f.timezone,
      currency: f.currency,
      ...rulesBody(rules),
    });
    onDone();
  };
  return (
    <form class="card" onSubmit={submit(create)} aria-label="New app">
      <h2>New app</h2>
      <div class="grid">
        <Field label="Name" name="name" value={f.name} onInput={set('name')} required />
        <Field
          label="iOS bundle id"
          name="bundleId"
          value={f.bundleId}
          onInput={set('bundleId')}
          placeholder="com.example.app"
        />
        <Field
          label="App Store id"
          name="appStoreId"
          value={f.appStoreId}
          onInput={set('appStoreId')}
          placeholder="1234567890"
        />
        <Field
          label="Android package"
          name="packageName"
          value={f.packageName}
          onInput={set('packageName')}
          placeholder="com.example.app"
        />
        <Field
          label="Time zone"
          name="timezone"
          value={f.timezone}
          onInput={set('timezone')}
          hint="IANA name, e.g. Europe/Berlin"
        />
        <Field
          label="Currency"
          name="currency"
          value={f.currency}
          onInput={set('currency')}
          hint="ISO 4217, e.g. EUR"
        />
      </div>
      <RulesFields value={rules} onChange={setRules} prefix="new-" />
      <ErrorBox error={error} />
      <CreateActions what="app" busy={busy} onCancel={onCancel} />
    </form>
  );
}
