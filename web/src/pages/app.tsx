import { get, type App, type One } from '../api.ts';
import { ErrorBox, Loading, SubNav, useLoad } from '../ui.tsx';
import { AppSettings } from './app-settings.tsx';
import { AuditLog } from './audit-log.tsx';
import { IntegrationsSettings } from './integrations.tsx';
import { SkanSettings } from './skan.tsx';
import { QualifiedTrials, WebhookSettings } from './webhooks.tsx';
import { AttributionsTab } from './attributions.tsx';
import { StatsTab } from './stats.tsx';
import { EventsTab } from './events.tsx';
import { LinksTab } from './links.tsx';
import { OverviewTab } from './overview.tsx';

const TABS = [
  ['', 'Overview'],
  ['stats', 'Stats'],
  ['attributions', 'Installs'],
  ['links', 'Links'],
  ['events', 'Events'],
  ['settings', 'Settings'],
] as const;

/**
 * The sections of an app's Settings tab. RevenueCat and Superwall webhooks and Qualified trials
 * (docs/spec/product.md §15) come next to Integrations once their API exists: absent until then,
 * never mocked.
 */
const SETTINGS_SECTIONS = [
  ['', 'General'],
  ['integrations', 'Integrations'],
  ['webhooks', 'Subscription webhooks'],
  ['qualified-trials', 'Qualified trials'],
  ['audit-log', 'Audit log'],
  ['skan', 'SKAN'],
] as const;

/** One app: its tabs share the loaded app. */
export function AppPage({
  appId,
  tab = '',
  section = '',
}: {
  appId: string;
  tab?: string;
  section?: string;
}) {
  const app = useLoad(
    () => get<One<App>>(`/apps/${encodeURIComponent(appId)}`).then((r) => r.data),
    [appId],
  );
  if (app.loading && !app.data) return <Loading what="Loading the app" />;
  if (!app.data) return <ErrorBox error={app.error} />;
  const a = app.data;
  return (
    <section>
      <p class="crumbs">
        <a href="/apps">Apps</a> / {a.name}
      </p>
      <h1>{a.name}</h1>
      <nav class="tabs" aria-label="App">
        {TABS.map(([t, label]) => (
          <a
            key={t}
            href={`/apps/${a.id}${t ? `/${t}` : ''}`}
            aria-current={tab === t ? 'page' : undefined}
          >
            {label}
          </a>
        ))}
      </nav>
      {tab === '' && <OverviewTab app={a} />}
      {tab === 'stats' && <StatsTab app={a} />}
      {tab === 'attributions' && <AttributionsTab app={a} />}
      {tab === 'links' && <LinksTab app={a} />}
      {tab === 'events' && <EventsTab app={a} />}
      {tab === 'settings' && (
        <>
          <SubNav
            label="App settings"
            current={`/apps/${a.id}/settings${section ? `/${section}` : ''}`}
            items={SETTINGS_SECTIONS.map(([s, l]) => [
              `/apps/${a.id}/settings${s ? `/${s}` : ''}`,
              l,
            ])}
          />
          {section === '' && <AppSettings app={a} onSaved={app.reload} />}
          {section === 'integrations' && <IntegrationsSettings app={a} />}
          {section === 'webhooks' && <WebhookSettings app={a} />}
          {section === 'qualified-trials' && <QualifiedTrials app={a} />}
          {section === 'audit-log' && <AuditLog app={a} />}
          {section === 'skan' && <SkanSettings app={a} />}
        </>
      )}
    </section>
  );
}
