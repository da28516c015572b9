import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { compileTrustProxy } from './http/client-ip.ts';

/**
 * Configuration comes from environment variables only, validated once at start.
 * A bad value stops the process with a message naming the variable.
 */
const url = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//.test(u), 'must be an http(s) URL');

const EnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional(),
  DATABASE_OWNER_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional(),
  PUBLIC_URL: url.optional(),
  TRACKING_URL: url.optional(),
  SECRET_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  TRUSTED_PROXIES: z.string().default('127.0.0.1,::1'),
  API_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().positive().default(600),
  LOGIN_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().positive().default(10),
  AUTH_FAILURES_PER_MINUTE: z.coerce.number().int().positive().default(20),
  SESSION_IDLE_HOURS: z.coerce.number().int().positive().max(720).default(72),
  CLICK_RETENTION_DAYS: z.coerce.number().int().positive().default(30),
  APPLE_ADSERVICES_URL: url.default('https://api-adservices.apple.com/api/v1/'),
  SKAN_ALLOW_DEVELOPMENT_KEYS: z
    .enum(['true', 'false'], { error: 'must be true or false' })
    .default('false'),
  EMBEDDED_PG_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  // Conversion forwarding (docs/forwarding.md): outside services and retry timing.
  META_GRAPH_URL: url.default('https://graph.facebook.com/v24.0/'),
  TIKTOK_API_URL: url.default('https://business-api.tiktok.com/open_api/v1.3/'),
  GOOGLE_ADS_API_URL: url.default('https://googleads.googleapis.com/'),
  GOOGLE_OAUTH_TOKEN_URL: url.default('https://oauth2.googleapis.com/token'),
  FORWARD_RETRY_BASE_SECONDS: z.coerce.number().positive().default(60),
  FORWARD_TIMEOUT_SECONDS: z.coerce.number().positive().default(10),
  // Qualified trials (docs/webhooks.md): how often held trials are decided, and the bearer secret
  // of POST /api/cron/qualified-trials for an outside scheduler (unset: that endpoint is off).
  QUALIFIED_TRIALS_INTERVAL_SECONDS: z.coerce.number().positive().max(86_400).default(300),
  CRON_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  // Analytics currency conversion: value in USD of one unit of each currency, e.g. {"EUR":1.08,"GBP":1.27}.
  FX_RATES: z
    .string()
    .default('{}')
    .transform((s, ctx) => {
      try {
        const v = JSON.parse(s);
        const ok =
          v &&
          typeof v === 'object' &&
          !Array.isArray(v) &&
          Object.entries(v).every(
            ([k, r]) =>
              /^[A-Z]{3}$/.test(k) && typeof r === 'number' && Number.isFinite(r) && r > 0,
          );
        if (ok) return v as Record<string, number>;
      } catch {
        /* reported below */
      }
      ctx.addIssue({
        code: 'custom',
        message: 'must be a JSON object of ISO-4217 codes to positive USD rates, e.g. {"EUR":1.08}',
      });
      return z.NEVER;
    }),
});

export type Config = {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  /**
   * With DATABASE_URL: the schema owner's connection. The server migrates with it and grants
   * DATABASE_URL's role the rows it works on, then works as that role only.
   */
  databaseOwnerUrl: string | undefined;
  publicUrl: string;
  trackingUrl: string;
  secretKey: Buffer;
  logLevel: z.infer<typeof EnvSchema>['LOG_LEVEL'];
  trustedProxies: string[];
  apiRateLimitPerMinute: number;
  loginRateLimitPerMinute: number;
  /** Failed API-key or session credentials per client IP and minute before a 429. */
  authFailuresPerMinute: number;
  /** A session unused this long ends (besides its fixed 30-day lifetime). */
  sessionIdleHours: number;
  clickRetentionDays: number;
  appleAdServicesUrl: string;
  embeddedPgPort: number;
  /** Base URLs of the ad networks' APIs, each ending with `/` (the OAuth token URL is used as is). */
  metaGraphUrl: string;
  tiktokApiUrl: string;
  googleAdsApiUrl: string;
  googleOAuthTokenUrl: string;
  /** First retry delay of a failed forward; doubles per attempt, capped at 6 h. */
  forwardRetryBaseSeconds: number;
  /** A network call taking longer is abandoned and retried. */
  forwardTimeoutSeconds: number;
  /** AdAttributionKit postbacks signed with Apple's development keys count as verified (test setups only). */
  skanAllowDevelopmentKeys: boolean;
  /** USD value of one unit of each currency (USD itself is 1); empty: no conversion. */
  fxRates: Record<string, number>;
  qualifiedTrialsIntervalSeconds: number;
  /** Bearer secret of POST /api/cron/qualified-trials; null: the endpoint answers 404. */
  cronSecret: string | null;
};

export class ConfigError extends Error {}

const stripSlash = (u: string) => u.replace(/\/+$/, '');
const withSlash = (u: string) => `${stripSlash(u)}/`;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const trustedProxies = e.TRUSTED_PROXIES.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  try {
    compileTrustProxy(trustedProxies);
  } catch (err) {
    throw new ConfigError(`Invalid configuration:\n  ${(err as Error).message}`);
  }
  if (e.DATABASE_OWNER_URL && !e.DATABASE_URL)
    throw new ConfigError(
      'Invalid configuration:\n  DATABASE_OWNER_URL: needs DATABASE_URL (the role the server works as)',
    );
  const dataDir = path.resolve(e.DATA_DIR);
  const publicUrl = stripSlash(e.PUBLIC_URL ?? `http://localhost:${e.PORT}`);
  return {
    port: e.PORT,
    host: e.HOST,
    dataDir,
    databaseUrl: e.DATABASE_URL,
    databaseOwnerUrl: e.DATABASE_OWNER_URL,
    publicUrl,
    trackingUrl: stripSlash(e.TRACKING_URL ?? publicUrl),
    secretKey: loadSecretKey(e.SECRET_KEY, dataDir),
    logLevel: e.LOG_LEVEL,
    trustedProxies,
    apiRateLimitPerMinute: e.API_RATE_LIMIT_PER_MINUTE,
    loginRateLimitPerMinute: e.LOGIN_RATE_LIMIT_PER_MINUTE,
    authFailuresPerMinute: e.AUTH_FAILURES_PER_MINUTE,
    sessionIdleHours: e.SESSION_IDLE_HOURS,
    clickRetentionDays: e.CLICK_RETENTION_DAYS,
    appleAdServicesUrl: e.APPLE_ADSERVICES_URL,
    embeddedPgPort: e.EMBEDDED_PG_PORT,
    metaGraphUrl: withSlash(e.META_GRAPH_URL),
    tiktokApiUrl: withSlash(e.TIKTOK_API_URL),
    googleAdsApiUrl: withSlash(e.GOOGLE_ADS_API_URL),
    googleOAuthTokenUrl: e.GOOGLE_OAUTH_TOKEN_URL,
    forwardRetryBaseSeconds: e.FORWARD_RETRY_BASE_SECONDS,
    forwardTimeoutSeconds: e.FORWARD_TIMEOUT_SECONDS,
    skanAllowDevelopmentKeys: e.SKAN_ALLOW_DEVELOPMENT_KEYS === 'true',
    fxRates: e.FX_RATES,
    qualifiedTrialsIntervalSeconds: e.QUALIFIED_TRIALS_INTERVAL_SECONDS,
    cronSecret: e.CRON_SECRET ?? null,
  };
}

/** SECRET_KEY from the environment, else one generated once and kept in DATA_DIR. */
function loadSecretKey(fromEnv: string | undefined, dataDir: string): Buffer {
  if (fromEnv) return Buffer.from(fromEnv, 'utf8');
  const file = path.join(dataDir, 'secret.key');
  if (existsSync(file)) return Buffer.from(readFileSync(file, 'utf8').trim(), 'utf8');
  mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(32).toString('base64url');
  writeFileSync(file, key + '\n', { mode: 0o600, flag: 'wx' });
  return Buffer.from(key, 'utf8');
}
