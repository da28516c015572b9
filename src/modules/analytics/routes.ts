import { forwardingOf } from '../integrations/deliveries.ts';
import { z } from 'zod';
import type { ApiInstance } from '../../http/types.ts';
import { errorResponses, validationError } from '../../http/errors.ts';
import { list, ListOf, single, SingleOf } from '../../http/envelope.ts';
import { page } from '../../http/cursor.ts';
import type { Services } from '../../services.ts';
import { principalOf, visibleApp } from '../auth/principal.ts';
import type { AppRow } from '../apps/queries.ts';
import { AppIdParams } from '../apps/schemas.ts';
import {
  ATTRIBUTION_RULE,
  DAY_RULE,
  DEFINITIONS,
  ENVIRONMENT_RULE,
  METRICS,
} from './definitions.ts';
import { resolvePeriod } from './period.ts';
import {
  listAttributions,
  listEvents,
  type AttributionRow,
  type EventRow,
  type Filters,
  type FilterName,
} from './queries.ts';
import {
  compareStats,
  overview,
  portfolio,
  sortKey,
  stats,
  statsFingerprint,
  type StatsKey,
} from './reports.ts';
import {
  Attribution,
  AttributionsQuery,
  Event,
  EventsQuery,
  Overview,
  OverviewQuery,
  Portfolio,
  PortfolioQuery,
  StatsQuery,
  StatsRow,
} from './schemas.ts';

// Every credential may read analytics (access 'analytics'): no 403.
const appErrors = errorResponses(400, 401, 404, 429);
const tags = ['Analytics'];
const analyticsAccess = { access: 'analytics' as const };
const ACCESS_NOTE =
  'Readable with full, read_only and analytics keys and dashboard sessions; a key limited to some apps sees the others as 404.';
const DEFINITIONS_TEXT =
  `${ENVIRONMENT_RULE} ${DAY_RULE} ${ATTRIBUTION_RULE}\n\n` +
  METRICS.map((m) => `- \`${m}\`: ${DEFINITIONS[m]}`).join('\n');

const filtersOf = (q: Partial<Record<FilterName, string[] | undefined>>): Filters => ({
  network: q.network,
  campaign: q.campaign,
  platform: q.platform,
  country: q.country,
  linkId: q.linkId,
});

export async function analyticsRoutes(app: ApiInstance, { sql, cursors, config }: Services) {
  const fx = config.fxRates;

  app.get(
    '/apps/:appId/overview',
    {
      config: analyticsAccess,
      schema: {
        tags,
        summary: 'KPIs of a period, the previous period and a daily time series',
        description: `${ACCESS_NOTE}\n\n${DEFINITIONS_TEXT}`,
        params: AppIdParams,
        querystring: OverviewQuery,
        response: { 200: SingleOf(Overview), ...appErrors },
      },
    },
    async (req) => {
      const a = await visibleApp(sql, req);
      return single(await overview(sql, fx, a, { ...req.query, filters: filtersOf(req.query) }));
    },
  );

  app.get(
    '/apps/:appId/stats',
    {
      config: analyticsAccess,
      schema: {
        tags,
        summary: 'Metrics grouped by dimensions, paginated',
        description:
          `${ACCESS_NOTE} Rows are ordered by the first dimension, then installs descending, then the other dimensions. ` +
          `Only groups with data appear.\n\n${DEFINITIONS_TEXT}`,
        params: AppIdParams,
        querystring: StatsQuery,
        response: { 200: ListOf(StatsRow), ...appErrors },
      },
    },
    async (req) => {
      const a = await visibleApp(sql, req);
      const q = req.query;
      const groupBy = [...new Set(q.groupBy ?? ['date' as const])];
      const metrics = [...new Set(q.metrics ?? METRICS)];
      const period = resolvePeriod(q, a.timezone);
      const filters = filtersOf(q);
      const scope = statsFingerprint(a.id, {
        period,
        env: q.environment,
        filters,
        groupBy,
        metrics,
      });
      const after = cursors.decode(scope, q.cursor) as StatsKey | null;
      const { rows } = await stats(sql, fx, a, {
        ...period,
        environment: q.environment,
        filters,
        groupBy,
        metrics,
      });
      const start = after ? rows.findIndex((r) => compareStats(sortKey(r, groupBy), after) > 0) : 0;
      const rest = start < 0 ? [] : rows.slice(start, start + q.limit + 1);
      const { items, cursor } = page(
        rest,
        q.limit,
        (r) => sortKey(r, groupBy),
        (k) => cursors.encode(scope, k),
      );
      return list(
        items.map((r) => ({ dimensions: r.dimensions, metrics: r.metrics() })),
        cursor,
      );
    },
  );

  app.get(
    '/apps/:appId/events',
    {
      config: analyticsAccess,
      schema: {
        tags,
        summary: 'The event log, newest first',
        description:
          `${ACCESS_NOTE} Keyset pagination over (receivedAt, id), stable while new events arrive. ` +
          'Control events (_set_user_id, _advanced_matching) are listed too.',
        params: AppIdParams,
        querystring: EventsQuery,
        response: { 200: ListOf(Event), ...appErrors },
      },
    },
    async (req) => {
      const a = await visibleApp(sql, req);
      const q = req.query;
      if (q.from && q.to && q.from > q.to) throw badPeriod();
      const scope = `events:${a.id}:${q.environment}`;
      const after = cursors.decode(scope, q.cursor) as [string, string] | null;
      const rows = await listEvents(sql, {
        appId: a.id,
        environment: q.environment,
        timezone: a.timezone,
        from: q.from,
        to: q.to,
        eventNames: q.eventName,
        sources: q.source,
        deviceId: q.deviceId,
        after,
        limit: q.limit,
      });
      const { items, cursor } = page(
        rows,
        q.limit,
        (r) => [r.at, r.seq],
        (k) => cursors.encode(scope, k),
      );
      const forwarding = await forwardingOf(
        sql,
        items.map((r) => r.id),
      );
      return list(
        items.map((r) => ({ ...toEvent(r, a), forwarding: forwarding.get(r.id) ?? [] })),
        cursor,
      );
    },
  );

  app.get(
    '/apps/:appId/attributions',
    {
      config: analyticsAccess,
      schema: {
        tags,
        summary: 'Install attributions, newest first',
        description: `${ACCESS_NOTE} One per install; filtered by install day in the app's time zone. Keyset pagination over (installedAt, id).`,
        params: AppIdParams,
        querystring: AttributionsQuery,
        response: { 200: ListOf(Attribution), ...appErrors },
      },
    },
    async (req) => {
      const a = await visibleApp(sql, req);
      const q = req.query;
      const period = resolvePeriod(q, a.timezone);
      const scope = `attributions:${a.id}:${q.environment}`;
      const after = cursors.decode(scope, q.cursor) as [string, string] | null;
      const rows = await listAttributions(sql, {
        appId: a.id,
        environment: q.environment,
        timezone: a.timezone,
        ...period,
        filters: filtersOf(q),
        after,
        limit: q.limit,
      });
      const { items, cursor } = page(
        rows,
        q.limit,
        (r) => [r.at, r.id],
        (k) => cursors.encode(scope, k),
      );
      return list(items.map(toAttribution), cursor);
    },
  );

  app.get(
    '/portfolio',
    {
      config: analyticsAccess,
      schema: {
        tags: ['Portfolio'],
        summary: 'KPIs of every app of the organization side by side, with totals and shares',
        description:
          `${ACCESS_NOTE} Archived apps are left out. Each app is reported in its own time zone and currency; ` +
          `the totals are in one currency and mix nothing: amounts that FX_RATES cannot convert are listed in revenueByCurrency ` +
          `and unconvertedCurrencies instead.\n\n${DEFINITIONS_TEXT}`,
        querystring: PortfolioQuery,
        response: { 200: SingleOf(Portfolio), ...errorResponses(400, 401, 429) },
      },
    },
    async (req) => {
      const p = principalOf(req);
      const q = req.query;
      const apps = await sql<AppRow[]>`
      select * from apps
      where org_id = ${p.orgId} and archived_at is null ${p.appIds ? sql`and id = any(${p.appIds})` : sql``}
      order by seq`;
      return single(await portfolio(sql, fx, apps, { ...q, filters: filtersOf(q) }));
    },
  );
}

const badPeriod = () => validationError('from', 'must not be after to');

function toEvent(r: EventRow, a: AppRow): Omit<z.infer<typeof Event>, 'forwarding'> {
  return {
    id: r.id,
    eventName: r.event_name,
    deviceId: r.device_id,
    userId: r.user_id,
    source: r.source,
    environment: r.environment,
    revenue:
      r.revenue === null ? null : { amount: Number(r.revenue), currency: r.currency ?? a.currency },
    revenueRaw: r.revenue_raw,
    flags: r.flags,
    properties: r.properties,
    attribution:
      r.network === null
        ? null
        : { network: r.network, campaign: r.campaign, matchType: r.match_type ?? 'organic' },
    occurredAt: r.occurred_at.toISOString(),
    receivedAt: r.received_at.toISOString(),
  };
}

function toAttribution(r: AttributionRow): z.infer<typeof Attribution> {
  return {
    id: r.id,
    deviceId: r.device_id,
    platform: r.platform,
    environment: r.environment,
    network: r.network,
    matchType: r.match_type,
    campaign: r.campaign,
    campaignId: r.campaign_id,
    adGroupId: r.ad_group_id,
    adId: r.ad_id,
    linkId: r.link_id,
    clickId: r.click_id,
    clickedAt: r.clicked_at?.toISOString() ?? null,
    installedAt: r.installed_at.toISOString(),
    country: r.country,
    reinstall: r.reinstall,
    explanation: r.explanation ?? {},
  };
}
