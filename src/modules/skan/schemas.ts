import { z } from 'zod';
import { Currency } from '../apps/schemas.ts';
import { DAY_RANGE_MESSAGE, inDayRange } from '../analytics/period.ts';

/**
 * One zod schema per shape (docs/spec/api.md, SKAN): these validate PUT /apps/{appId}/skan, type
 * the handlers and document the API. The rules that span several entries (ordered revenue bounds,
 * rules that could never be told apart) are checked here too, each naming the failing path.
 */

export const COARSE_VALUES = ['low', 'medium', 'high'] as const;
export type CoarseValue = (typeof COARSE_VALUES)[number];
export const coarseRank = (v: CoarseValue) => COARSE_VALUES.indexOf(v);

/** Source identifiers of 2–4 digits (SKAdNetwork 4, AdAttributionKit) or a legacy campaign id 1–100. */
export const CAMPAIGN_KEY = /^(?:[0-9]{2,4}|[1-9])$/;
const isCampaignKey = (k: string) =>
  CAMPAIGN_KEY.test(k) && (k.length > 1 || (Number(k) >= 1 && Number(k) <= 100));

const Money = z.number().min(0).max(1e12);

export const Condition = z
  .strictObject({
    event: z
      .string()
      .min(1)
      .max(100)
      .describe('The event name (`install` is the install itself)')
      .meta({ example: 'purchase' }),
    revenueMin: Money.optional().describe(
      "The device's total revenue of this event, in the app's currency, at least this",
    ),
    revenueMax: Money.optional().describe('… and at most this'),
  })
  .superRefine((c, ctx) => {
    if (c.revenueMin !== undefined && c.revenueMax !== undefined && c.revenueMin > c.revenueMax)
      ctx.addIssue({
        code: 'custom',
        path: ['revenueMax'],
        message: 'must not be below revenueMin',
      });
  });
export type Condition = z.infer<typeof Condition>;

const Window = z.number().int().min(0).max(2).describe('0, 1, 2: days 0–2, 3–7, 8–35');

export const FineRule = z.strictObject({
  value: z.number().int().min(0).max(63).describe('Fine conversion value (first window only)'),
  when: Condition,
});
export const CoarseRule = z.strictObject({
  window: Window,
  value: z.enum(COARSE_VALUES),
  when: Condition,
});
export const LockRule = z.strictObject({ window: Window, when: Condition });
export const CampaignTarget = z.strictObject({
  network: z.string().min(1).max(64).meta({ example: 'meta' }),
  campaign: z.string().min(1).max(255).nullish().meta({ example: 'summer_launch' }),
});

const sameCondition = (a: Condition, b: Condition) =>
  a.event === b.event && a.revenueMin === b.revenueMin && a.revenueMax === b.revenueMax;

/** The body of PUT /apps/{appId}/skan: replaces the schema whole. */
export const SkanSchemaInput = z
  .strictObject({
    version: z.literal(4).default(4).describe('SKAdNetwork version the schema is for (4)'),
    currency: Currency.optional().describe(
      "Revenue bounds are in the app's currency; when given it must be that currency",
    ),
    fine: z.array(FineRule).max(64).default([]),
    coarse: z.array(CoarseRule).max(192).default([]),
    lock: z.array(LockRule).max(30).default([]),
    campaigns: z
      .record(z.string(), CampaignTarget)
      .default({})
      .describe(
        'Source identifier (2–4 digits; a postback matches its longest prefix of 4, 3, 2 digits) or legacy campaign id (1–100) → network and campaign',
      ),
  })
  .superRefine((s, ctx) => {
    // Two fine rules that could never be told apart: a postback carries only the value, so two
    // rules sharing a value leave it ambiguous; two rules with one condition leave the lower
    // value unreachable ("the highest matching value wins").
    s.fine.forEach((r, i) => {
      const j = s.fine.findIndex((o, k) => k < i && o.value === r.value);
      if (j !== -1)
        ctx.addIssue({
          code: 'custom',
          path: ['fine', i, 'value'],
          message: `same value as fine.${j}: a postback could not tell the two rules apart`,
        });
      const c = s.fine.findIndex((o, k) => k < i && sameCondition(o.when, r.when));
      if (c !== -1)
        ctx.addIssue({
          code: 'custom',
          path: ['fine', i, 'when'],
          message: `same condition as fine.${c}: only the higher value could ever be reported`,
        });
    });
    s.coarse.forEach((r, i) => {
      const c = s.coarse.findIndex(
        (o, k) => k < i && o.window === r.window && sameCondition(o.when, r.when),
      );
      if (c !== -1)
        ctx.addIssue({
          code: 'custom',
          path: ['coarse', i, 'when'],
          message: `same window and condition as coarse.${c}: only the higher value could ever be reported`,
        });
    });
    for (const k of Object.keys(s.campaigns))
      if (!isCampaignKey(k))
        ctx.addIssue({
          code: 'custom',
          path: ['campaigns', k],
          message: 'must be keyed by a source identifier of 2–4 digits or a campaign id 1–100',
        });
  });
export type SkanSchemaInput = z.infer<typeof SkanSchemaInput>;
/** What is stored per revision (the input without version and currency). */
export type SkanSchemaBody = Pick<SkanSchemaInput, 'fine' | 'coarse' | 'lock' | 'campaigns'>;

export const SkanSchema = z
  .object({
    version: z.literal(4),
    revision: z
      .number()
      .int()
      .describe('Increases with every PUT; 0 before the first (an empty schema)'),
    currency: z.string().describe("The app's currency, which revenue bounds are in"),
    fine: z.array(FineRule),
    coarse: z.array(CoarseRule),
    lock: z.array(LockRule),
    campaigns: z.record(z.string(), CampaignTarget),
    updatedAt: z.string().nullable(),
  })
  .meta({ id: 'SkanSchema' });
export type SkanSchema = z.infer<typeof SkanSchema>;

export const Decoded = z.object({
  events: z.array(z.string()),
  revenueMin: z.number().nullable(),
  revenueMax: z.number().nullable(),
  schemaRevision: z.number().int().nullable().describe('The schema revision used to decode'),
});

export const SkanPostback = z
  .object({
    id: z.string(),
    kind: z.enum(['skadnetwork', 'adattributionkit']),
    version: z.string().nullable(),
    verified: z.boolean(),
    unverifiedReason: z
      .string()
      .nullable()
      .describe('Why the signature did not verify (null when verified)'),
    sandbox: z.boolean().describe('A test postback (source app id 0, or a development key)'),
    transactionId: z
      .string()
      .nullable()
      .describe('transaction-id, or postback-identifier for AdAttributionKit'),
    adNetworkId: z.string().nullable(),
    sourceIdentifier: z.string().nullable(),
    campaignId: z.number().int().nullable(),
    network: z.string().nullable(),
    campaign: z.string().nullable(),
    sourceAppId: z.string().nullable(),
    sourceDomain: z.string().nullable(),
    redownload: z.boolean().nullable(),
    fidelityType: z.number().int().nullable(),
    didWin: z.boolean().nullable(),
    conversionType: z.string().nullable(),
    window: z.number().int().nullable(),
    fineValue: z.number().int().nullable(),
    coarseValue: z.string().nullable(),
    countryCode: z.string().nullable(),
    decoded: Decoded.nullable(),
    receivedAt: z.string(),
    raw: z.unknown(),
  })
  .meta({ id: 'SkanPostback' });
export type SkanPostback = z.infer<typeof SkanPostback>;

const Bool = z.enum(['true', 'false']).transform((v) => v === 'true');
const Day = z.iso
  .date({ error: 'must be a day YYYY-MM-DD' })
  .refine(inDayRange, DAY_RANGE_MESSAGE)
  .meta({ example: '2026-06-01' });

export const PostbackQuery = {
  verified: Bool.optional().describe('Only verified (true) or unverified (false) postbacks'),
  window: z.coerce.number().int().min(0).max(2).optional(),
  from: Day.optional().describe("First day received (app's time zone)"),
  to: Day.optional().describe("Last day received (app's time zone)"),
};

export const STATS_DIMENSIONS = [
  'date',
  'network',
  'campaign',
  'sourceIdentifier',
  'window',
  'fineValue',
  'coarseValue',
] as const;
export type StatsDimension = (typeof STATS_DIMENSIONS)[number];

export const StatsQuery = z.strictObject({
  from: Day.optional().describe("First day received (app's time zone); default 7 days ago"),
  to: Day.optional().describe('Last day received; default today'),
  groupBy: z
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
    .pipe(z.array(z.enum(STATS_DIMENSIONS)).min(1).max(STATS_DIMENSIONS.length).optional())
    .describe(
      `Dimensions (default date): one or more of ${STATS_DIMENSIONS.join(', ')}; repeat the parameter or separate with commas`,
    ),
  verified: z
    .enum(['true', 'any'])
    .default('true')
    .describe('Verified postbacks only (default), or any'),
});

export const StatsRow = z.object({
  dimensions: z.record(z.string(), z.union([z.string(), z.number(), z.null()])),
  metrics: z.object({
    postbacks: z.number().int(),
    installs: z.number().int().describe('First-window postbacks of downloads (not redownloads)'),
    redownloads: z.number().int(),
    conversions: z
      .number()
      .int()
      .describe('Postbacks whose value decodes to an event other than install'),
    revenueMin: z.number().describe('Sum of the decoded revenue ranges’ lower bounds'),
    revenueMax: z.number().describe('Sum of their upper bounds (bounded ranges only)'),
  }),
});
