/**
 * The SDK endpoints in the OpenAPI document. Documentation only: the routes keep their own lenient
 * body parsing (sdk-body.ts) and no schema runs per request; these zod schemas only describe the
 * wire format for the document (they become its `Sdk…` component schemas).
 */
import { z } from 'zod';
import type { Services } from '../../services.ts';
import { MAX_ID_LENGTH } from './sdk-body.ts';

const SdkConfigureRequest = z
  .looseObject({
    device_id: z.string().min(1).max(MAX_ID_LENGTH).describe("The SDK's device id; required"),
    device_info: z
      .looseObject({
        platform: z.string().meta({ example: 'ios' }).describe('`ios`, `android` or `web`'),
        app_version: z.string().optional(),
        app_build: z.union([z.string(), z.number()]).optional(),
        bundle_id: z
          .string()
          .optional()
          .describe('Bundle id or package name; a mismatch is logged, never refused'),
        locale: z.string().optional(),
        timezone: z.string().optional(),
        os_version: z.string().optional(),
        model: z.string().optional(),
      })
      .optional()
      .describe('Every key optional; unknown keys are kept as sent'),
    asa_token: z.string().nullish().describe('Apple AdServices token (iOS)'),
    idfa: z.string().nullish(),
    gaid: z.string().nullish(),
    install_referrer: z.string().nullish().describe('The raw Google Play install referrer'),
    ar_click_id: z.string().nullish().describe('The click id, from the referrer or a web caller'),
    referrer_click_ts: z.number().int().nullish().describe('Play click time, Unix seconds'),
    referrer_install_ts: z
      .number()
      .int()
      .nullish()
      .describe('Play install-begin time, Unix seconds'),
    sdk_version: z.string().nullish(),
    customer_user_id: z.string().nullish(),
    app_id: z
      .string()
      .nullish()
      .describe('SDK 0.1.0 only: the app, when no X-AppRefer-Key is sent'),
  })
  .describe('Lenient: unknown fields are ignored, wrong-typed optional fields count as absent')
  .meta({ id: 'SdkConfigureRequest' });

const StringMap = z.record(z.string(), z.string());

const SdkAttribution = z
  .object({
    network: z.string().meta({ example: 'meta' }).describe('`organic` when no click matched'),
    campaign: z.string().nullable(),
    match_type: z.string().meta({ example: 'click_id' }),
    attribution_id: z.string(),
    campaign_id: z.string().nullable(),
    campaign_name: z.string().nullable(),
    ad_group_id: z.string().nullable(),
    ad_id: z.string().nullable(),
    keyword: z.string().nullable(),
    fbclid: z.string().nullable(),
    gclid: z.string().nullable(),
    ttclid: z.string().nullable(),
    query_params: StringMap.describe("The click URL's parameters"),
    customData: StringMap.describe("The link's custom data"),
    custom_data: StringMap.describe('Same as customData'),
    created_at: z.iso.datetime(),
  })
  .meta({ id: 'SdkAttribution' });

const SdkConfigureResponse = z
  .object({
    sdkEnabled: z.boolean().describe('false is the kill switch: the SDK stops calling configure'),
    sdk_enabled: z.boolean().describe('Same as sdkEnabled'),
    attribution: SdkAttribution.nullable().describe(
      'null while undetermined, and with the kill switch',
    ),
  })
  .meta({ id: 'SdkConfigureResponse' });

const SdkEventRequest = z
  .looseObject({
    device_id: z.string().min(1).max(MAX_ID_LENGTH),
    event_name: z
      .string()
      .min(1)
      .max(MAX_ID_LENGTH)
      .meta({ example: 'purchase' })
      .describe(
        'Free text, case-sensitive; `_set_user_id` and `_advanced_matching` are control events',
      ),
    properties: z
      .record(z.string(), z.unknown())
      .optional()
      .describe('Any JSON object, stored as received'),
    revenue: z
      .union([z.number(), z.string()])
      .optional()
      .describe('A number or a numeric string; also read from properties.revenue'),
    currency: z.string().optional().describe('ISO-4217, any case; the app currency when absent'),
    event_id: z
      .union([z.string().max(MAX_ID_LENGTH), z.number()])
      .optional()
      .describe('Idempotency key (server-to-server callers)'),
    advanced_matching: z
      .record(z.string(), z.string())
      .optional()
      .describe(
        '`_advanced_matching` only: em, ph, fn, ln, db as SHA-256 hex (plaintext is hashed)',
      ),
    app_id: z
      .string()
      .optional()
      .describe('SDK 0.1.0 only: the app, when no X-AppRefer-Key is sent'),
  })
  .describe('Lenient: unknown fields are ignored')
  .meta({ id: 'SdkEventRequest' });

const SdkEventResponse = z.object({ ok: z.literal(true) }).meta({ id: 'SdkEventResponse' });

const SdkError = z
  .object({
    error: z.object({
      code: z.enum([
        'invalid_json',
        'validation_error',
        'invalid_sdk_key',
        'payload_too_large',
        'service_unavailable',
      ]),
      message: z.string(),
    }),
  })
  .meta({ id: 'SdkError' });

// Referenced by id: the schemas above are component schemas of the document (zod's global registry).
const ref = (schema: z.ZodType) => ({
  $ref: `#/components/schemas/${z.globalRegistry.get(schema)!.id}`,
});
const json = (schema: z.ZodType, description: string) => ({
  description,
  content: { 'application/json': { schema: ref(schema) } },
});

const HEADERS = [
  {
    in: 'header',
    name: 'X-AppRefer-Key',
    required: false,
    schema: { type: 'string', example: 'pk_live_8b2e6d1f0a9c4e73a1b2c3d4' },
    description:
      "The app's SDK key: `pk_live_…` records live data, `pk_test_…` sandbox data. Required except from SDK 0.1.0, " +
      'which sends X-App-Id (or a body app_id) instead',
  },
  {
    in: 'header',
    name: 'X-App-Id',
    required: false,
    schema: { type: 'string' },
    description: 'SDK 0.1.0 only; ignored when X-AppRefer-Key is sent',
  },
  {
    in: 'header',
    name: 'X-SDK-Version',
    required: false,
    schema: { type: 'string' },
    description: 'Informational; without it an event is recorded as server-to-server',
  },
];

const ERRORS = {
  400: json(
    SdkError,
    'Body not a JSON object (`invalid_json`), or device_id / event_name missing or too long (`validation_error`). Final: do not retry',
  ),
  401: json(
    SdkError,
    'Missing, unknown or revoked SDK key, unknown legacy app id, or an archived app (`invalid_sdk_key`)',
  ),
  413: json(SdkError, 'Body over 1 MiB'),
  503: {
    ...json(SdkError, 'Overloaded or a dependency is down: retry after Retry-After seconds'),
    headers: { 'Retry-After': { schema: { type: 'integer' }, description: 'Seconds' } },
  },
};

const operation = (
  servers: { url: string }[],
  summary: string,
  description: string,
  body: z.ZodType,
  ok: ReturnType<typeof json>,
) => ({
  post: {
    tags: ['SDK'],
    summary,
    description,
    servers,
    // Not the management API's credentials: the SDK key travels in X-AppRefer-Key.
    security: [],
    parameters: HEADERS,
    requestBody: { required: true, content: { 'application/json': { schema: ref(body) } } },
    responses: { 200: ok, ...ERRORS },
  },
});

const HOSTS_NOTE =
  'Answered on the tracking host and on the API host alike. Any Content-Type is read as UTF-8 JSON; never a 3xx, 415 or 429.';

/** The SDK paths, for ModuleRegistration.documentedPaths. */
export function sdkPaths({ config }: Services) {
  const servers = [...new Set([config.trackingUrl, config.publicUrl])].map((url) => ({ url }));
  return {
    '/api/track/configure': operation(
      servers,
      'SDK: first launch: register the device and get its install attribution',
      HOSTS_NOTE,
      SdkConfigureRequest,
      json(SdkConfigureResponse, 'The attribution, or null while it is undetermined'),
    ),
    '/api/track/event': operation(
      servers,
      'SDK: record an in-app event',
      `${HOSTS_NOTE} Answered once the event is stored; duplicates and unknown devices are answered 200 too.`,
      SdkEventRequest,
      json(SdkEventResponse, 'Stored'),
    ),
  };
}
