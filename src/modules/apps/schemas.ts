import { z } from 'zod';

/** One schema per shape: these validate requests, type the handlers and document the API. */

const CURRENCIES = new Set(Intl.supportedValuesOf('currency'));

/** Stored normalised (`new URL().href`: non-ASCII percent-encoded, IDN hosts in punycode), so it is a valid `Location`. */
export const HttpUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
  .max(2048)
  .transform((u) => new URL(u).href);

export const Timezone = z
  .string()
  .refine((tz) => {
    if (tz !== 'UTC' && !tz.includes('/')) return false;
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  }, 'must be an IANA time zone such as "America/New_York" or "UTC"')
  .meta({ example: 'America/New_York' });

export const Currency = z
  .string()
  .refine(
    (c) => /^[A-Z]{3}$/.test(c) && CURRENCIES.has(c),
    'must be an ISO-4217 code in upper case, such as "USD"',
  )
  .meta({ example: 'USD' });

const BundleId = z
  .string()
  .max(155)
  .regex(
    /^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/,
    'must be a reverse-DNS bundle id such as "com.example.app"',
  );
const PackageName = z
  .string()
  .max(255)
  .regex(
    /^[a-zA-Z][a-zA-Z0-9_]*(\.[a-zA-Z][a-zA-Z0-9_]*)+$/,
    'must be an Android package name such as "com.example.app"',
  );
const AppStoreId = z
  .union([z.string(), z.number().int().positive()])
  .transform(String)
  .pipe(
    z
      .string()
      .regex(/^[1-9][0-9]{0,11}$/, 'must be the numeric App Store id, such as "1234567890"'),
  );

export const IosInput = z.strictObject({
  bundleId: BundleId,
  appStoreId: AppStoreId.nullish(),
  storeUrl: HttpUrl.nullish().describe('Defaults to https://apps.apple.com/app/id{appStoreId}'),
});
export const AndroidInput = z.strictObject({
  packageName: PackageName,
  storeUrl: HttpUrl.nullish().describe(
    'Defaults to https://play.google.com/store/apps/details?id={packageName}',
  ),
});

export const AttributionSettings = z.object({
  clickWindowHours: z
    .number()
    .int()
    .min(1)
    .max(720)
    .describe('Click-id and device-id lookback; clicks are kept 30 days, so at most 720'),
  probabilisticEnabled: z
    .boolean()
    .describe(
      'Match installs to clicks by IP + device signals when no deterministic signal exists',
    ),
  probabilisticWindowHours: z.number().int().min(1).max(168),
  reattributionWindowDays: z
    .number()
    .int()
    .min(0)
    .max(400)
    .describe('A reinstall with a new click is re-attributed only after this many days'),
});
export const QualifiedTrials = z.object({
  enabled: z.boolean(),
  delayHours: z
    .number()
    .min(0)
    .max(168)
    .describe(
      'Hours a trial start is held before it is forwarded as qualified_trial; fractions allowed',
    ),
});

export const AppIdParams = z.strictObject({
  appId: z.string().max(64).describe('The app id, e.g. app_3f9c1a7e5b2'),
});

export const AppCreate = z
  .strictObject({
    name: z.string().trim().min(1).max(200),
    ios: IosInput.nullish(),
    android: AndroidInput.nullish(),
    webUrl: HttpUrl.nullish(),
    timezone: Timezone.default('UTC'),
    currency: Currency.default('USD'),
    sdkEnabled: z.boolean().default(true),
    legacyAppId: z
      .string()
      .min(1)
      .max(128)
      .nullish()
      .describe('Extra id accepted in X-App-Id from SDK 0.1.0 apps'),
    attributionSettings: AttributionSettings.partial().strict().optional(),
    qualifiedTrials: QualifiedTrials.partial().strict().optional(),
  })
  .meta({ id: 'AppCreate' });

export const AppUpdate = z
  .strictObject({
    name: z.string().trim().min(1).max(200).optional(),
    ios: IosInput.nullish().describe('Replaces the whole iOS block; null removes it'),
    android: AndroidInput.nullish().describe('Replaces the whole Android block; null removes it'),
    webUrl: HttpUrl.nullish(),
    timezone: Timezone.optional(),
    currency: Currency.optional(),
    sdkEnabled: z
      .boolean()
      .optional()
      .describe('false is the kill switch: SDKs stop calling configure for good'),
    legacyAppId: z.string().min(1).max(128).nullish(),
    attributionSettings: AttributionSettings.partial()
      .strict()
      .optional()
      .describe('Only the given fields change'),
    qualifiedTrials: QualifiedTrials.partial()
      .strict()
      .optional()
      .describe('Only the given fields change'),
    archived: z
      .boolean()
      .optional()
      .describe('true archives the app: its SDK keys and links stop working'),
  })
  .meta({ id: 'AppUpdate' });

export const App = z
  .object({
    id: z.string().meta({ example: 'app_3f9c1a7e5b2' }),
    name: z.string(),
    ios: z
      .object({
        bundleId: z.string(),
        appStoreId: z.string().nullable(),
        storeUrl: z.string().nullable(),
      })
      .nullable(),
    android: z.object({ packageName: z.string(), storeUrl: z.string() }).nullable(),
    webUrl: z.string().nullable(),
    timezone: z.string(),
    currency: z.string(),
    sdkEnabled: z.boolean(),
    sdkKeys: z.object({
      live: z.string().meta({ example: 'pk_live_8b2e6d1f0a9c4e73a1b2c3d4' }),
      test: z.string(),
    }),
    legacyAppId: z.string().nullable(),
    attributionSettings: AttributionSettings,
    qualifiedTrials: QualifiedTrials,
    archived: z.boolean(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'App' });

export type AppResource = z.infer<typeof App>;
export type AppCreateInput = z.infer<typeof AppCreate>;
export type AppUpdateInput = z.infer<typeof AppUpdate>;
