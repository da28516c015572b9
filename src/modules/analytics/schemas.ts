import { z } from 'zod';
import { PageQuery } from '../../http/envelope.ts';
import { Currency } from '../apps/schemas.ts';
import {
  ATTRIBUTION_RULE,
  DAY_RULE,
  DEFINITIONS,
  ENVIRONMENT_RULE,
  METRICS,
} from './definitions.ts';
import { DIMENSIONS } from './queries.ts';
import { DAY_RANGE_MESSAGE, inDayRange } from './period.ts';

/** A query parameter that may repeat (`?network=meta&network=google`): always an array after parsing. */
const repeated = <T extends z.ZodType<string>>(item: T, what: string) =>
  z
    .union([item, z.array(item).max(100)])
    .optional()
    .transform((v) => (v === undefined ? undefined : Array.isArray(v) ? v : [v]))
    .describe(`${what}; repeat the parameter for several values (OR)`);

/** Like `repeated`, but also accepts comma-separated values (`groupBy=date,network`). */
const listOf = <T extends readonly [string, ...string[]]>(values: T, what: string) =>
  z
    .union([z.string(), z.array(z.string()).max(20)])
    .optional()
    .transform((v) =>
      v === undefined
        ? undefined
        : (Array.isArray(v) ? v : [v])
            .flatMap((s) => s.split(','))
            .map((s) => s.trim())
            .filter(Boolean),
    )
    .pipe(z.array(z.enum(values)).min(1).max(values.length).optional())
    .describe(
      `${what}: one or more of ${values.join(', ')}; repeat the parameter or separate with commas`,
    );

const Day = z.iso
  .date({ error: 'must be a calendar day YYYY-MM-DD' })
  .refine(inDayRange, DAY_RANGE_MESSAGE);
const Text = z.string().min(1).max(200);

export const Environment = z.enum(['live', 'sandbox']).default('live').describe(ENVIRONMENT_RULE);

export const PeriodQuery = {
  from: Day.optional().describe(
    "First day (inclusive) in the app's time zone; default 6 days before `to`",
  ),
  to: Day.optional().describe(
    "Last day (inclusive) in the app's time zone; default today there. At most 400 days in all",
  ),
  environment: Environment,
};

export const FilterQuery = {
  network: repeated(Text, 'Only this network (meta, google, tiktok, apple_search_ads, organic, …)'),
  campaign: repeated(Text, 'Only this campaign'),
  platform: repeated(z.enum(['ios', 'android', 'web']), 'Only this platform'),
  country: repeated(
    z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 code in upper case'),
    'Only this country (ISO 3166-1 alpha-2)',
  ),
  linkId: repeated(Text, 'Only this tracking link'),
};

export const OverviewQuery = z.strictObject({ ...PeriodQuery, ...FilterQuery });

export const StatsQuery = z.strictObject({
  ...PeriodQuery,
  ...FilterQuery,
  groupBy: listOf(DIMENSIONS, 'Dimensions to group by (default date)'),
  metrics: listOf(METRICS, 'Metrics to return (default all)'),
  ...PageQuery,
});

export const EventsQuery = z.strictObject({
  from: Day.optional().describe(
    'First day (inclusive, app time zone) of received events; default: no bound',
  ),
  to: Day.optional().describe('Last day (inclusive, app time zone); default: no bound'),
  environment: Environment,
  eventName: repeated(z.string().min(1).max(1024), 'Only events of this name (case-sensitive)'),
  source: repeated(
    z.enum(['sdk', 's2s', 'revenuecat', 'superwall', 'system']),
    'Only events from this source',
  ),
  deviceId: z
    .string()
    .min(1)
    .max(512)
    .optional()
    .describe('Only events of this device (the SDK device id)'),
  ...PageQuery,
});

export const AttributionsQuery = z.strictObject({ ...PeriodQuery, ...FilterQuery, ...PageQuery });

export const PortfolioQuery = z.strictObject({
  ...PeriodQuery,
  ...FilterQuery,
  currency: Currency.optional().describe(
    "Currency of the totals; default the apps' currency when they share one, else USD. Converted only with FX_RATES",
  ),
});

// ---------------------------------------------------------------------------------------------
// Responses.

export const Money = z.object({ amount: z.number(), currency: z.string() }).meta({ id: 'Money' });

const count = (m: keyof typeof DEFINITIONS) => z.number().int().describe(DEFINITIONS[m]);

export const Kpis = z
  .object({
    clicks: count('clicks'),
    installs: count('installs'),
    attributedInstalls: count('attributedInstalls'),
    organicInstalls: count('organicInstalls'),
    pendingInstalls: count('pendingInstalls'),
    clickToInstallRate: z.number().nullable().describe(DEFINITIONS.clickToInstallRate),
    events: count('events'),
    trials: count('trials'),
    qualifiedTrials: count('qualifiedTrials'),
    purchases: count('purchases'),
    revenue: Money.describe(DEFINITIONS.revenue),
    revenueByCurrency: z.array(Money).describe('Revenue per original currency, unconverted'),
    unconvertedCurrencies: z
      .array(z.string())
      .describe('Currencies left out of `revenue` because FX_RATES has no rate for them'),
    payingUsers: count('payingUsers'),
    arpu: Money.nullable().describe(DEFINITIONS.arpu),
  })
  .describe(`${ATTRIBUTION_RULE} ${DAY_RULE}`)
  .meta({ id: 'Kpis' });

const PeriodOut = z.object({ from: z.string(), to: z.string(), timezone: z.string().nullable() });

export const Overview = z
  .object({
    period: PeriodOut,
    kpis: Kpis,
    previousPeriod: Kpis.describe('The same KPIs over the same number of days right before `from`'),
    timeseries: z
      .array(Kpis.extend({ date: z.string() }))
      .describe('One entry per day of the period, zeros included'),
  })
  .meta({ id: 'Overview' });

export const StatsRow = z
  .object({
    dimensions: z
      .record(z.string(), z.string().nullable())
      .describe(
        'The groupBy values of this row; null where the value is unknown (e.g. a click without campaign)',
      ),
    metrics: Kpis.partial(),
  })
  .meta({ id: 'StatsRow' });

export const Event = z
  .object({
    id: z.string(),
    eventName: z.string(),
    deviceId: z.string().nullable(),
    userId: z.string().nullable(),
    source: z.string(),
    environment: z.string(),
    revenue: Money.nullable().describe(
      "As received (an amount without currency is in the app's currency)",
    ),
    revenueRaw: z
      .string()
      .nullable()
      .describe('The revenue value as sent, as text (kept also when it was not usable as revenue)'),
    flags: z
      .array(z.string())
      .describe(
        'Ingestion flags: after_kill_switch, revenue_implausible (not forwarded), revenue_out_of_range (not stored as revenue), currency_defaulted, properties_dropped (properties over 256 KiB replaced by their size and SHA-256)',
      ),
    properties: z.unknown(),
    attribution: z
      .object({ network: z.string(), campaign: z.string().nullable(), matchType: z.string() })
      .nullable()
      .describe("The device's install attribution (current), null when it has none"),
    occurredAt: z.string(),
    receivedAt: z.string(),
    forwarding: z
      .array(
        z.object({
          network: z.string(),
          deliveryId: z.string(),
          status: z.enum(['pending', 'retrying', 'delivered', 'failed', 'skipped']),
          networkEventName: z.string().nullable(),
          attempts: z.number().int(),
          error: z.string().nullable().describe('Why it failed or was skipped'),
          deliveredAt: z.string().nullable(),
        }),
      )
      .describe(
        'Its conversion deliveries, one per ad network (docs/forwarding.md); the full audit entry is GET …/integrations/deliveries?eventId=',
      ),
  })
  .meta({ id: 'Event' });

export const Attribution = z
  .object({
    id: z.string(),
    deviceId: z.string(),
    platform: z.string(),
    environment: z.string(),
    network: z.string(),
    matchType: z.string(),
    campaign: z.string().nullable(),
    campaignId: z.string().nullable(),
    adGroupId: z.string().nullable(),
    adId: z.string().nullable(),
    linkId: z.string().nullable(),
    clickId: z.string().nullable(),
    clickedAt: z.string().nullable(),
    installedAt: z.string(),
    country: z.string().nullable(),
    reinstall: z.boolean(),
    explanation: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'Attribution' });

export const Portfolio = z
  .object({
    period: PeriodOut.describe(
      'The requested days; each app reads them in its own time zone (timezone is null)',
    ),
    totals: Kpis.describe(
      'Sum over the apps; payingUsers and installs add up exactly, revenue is in the totals currency',
    ),
    apps: z.array(
      z.object({
        appId: z.string(),
        name: z.string(),
        timezone: z.string(),
        period: PeriodOut,
        kpis: Kpis.describe("In the app's own currency and time zone"),
        share: z.object({
          installs: z.number().nullable(),
          revenue: z
            .number()
            .nullable()
            .describe(
              "Share of the totals revenue; null when the totals are 0 or this app's revenue cannot be converted",
            ),
        }),
      }),
    ),
  })
  .meta({ id: 'Portfolio' });

export type KpisOut = z.infer<typeof Kpis>;
