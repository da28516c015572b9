import { z } from 'zod';
import { SecretState } from '../../http/envelope.ts';
import { RevenueCatWebhook, SuperwallWebhook } from '../webhooks/schemas.ts';

/** One schema per shape: these validate requests, type the handlers and document the API (docs/spec/api.md "Integrations"). */

const secretInput = (what: string) =>
  z
    .string()
    .trim()
    .min(1)
    .max(4096)
    .nullable()
    .optional()
    .describe(`${what}; write-only (shown as {"set","last4"}), null clears it`);
const text = (max: number) => z.string().trim().min(1).max(max).nullable().optional();

const EventName = z.string().min(1).max(128);
export const EventMapping = z
  .record(EventName, z.string().min(1).max(128).nullable())
  .describe(
    'Platform event name → the network event name (docs/spec/product.md §8.4 defaults); null stops forwarding that event',
  );
const EventMappingPatch = z
  .record(EventName, z.string().trim().min(1).max(128).nullable())
  .optional()
  .describe('Merged into the current mapping; a name mapped to null is no longer forwarded');

const common = {
  enabled: z.boolean().optional(),
  eventMapping: EventMappingPatch,
  forwardClientPurchases: z
    .boolean()
    .nullable()
    .optional()
    .describe(
      'Forward `purchase` events sent by the SDK or a server (docs/spec/product.md §8.5 #12); null: automatic (on while no webhook integration is connected)',
    ),
};

export const MetaSettingsPatch = z.strictObject({
  datasetId: z
    .string()
    .regex(/^[0-9]{1,20}$/, 'must be the numeric dataset (pixel) id')
    .nullable()
    .optional(),
  accessToken: secretInput('System-user access token'),
  testEventCode: text(64).describe('Routes events to Events Manager → Test Events'),
});
export const TiktokSettingsPatch = z.strictObject({
  pixelCode: z
    .string()
    .regex(/^[A-Za-z0-9]{1,64}$/, 'must be the pixel code, e.g. C4ABCDEFGHIJKLMN1234')
    .nullable()
    .optional(),
  accessToken: secretInput('Events API access token'),
  testEventCode: text(64),
});
const CustomerId = z
  .string()
  .transform((s) => s.replace(/-/g, ''))
  .pipe(z.string().regex(/^[0-9]{10}$/, 'must be a 10-digit customer id'));
export const GoogleSettingsPatch = z.strictObject({
  customerId: CustomerId.nullable().optional(),
  loginCustomerId: CustomerId.nullable().optional().describe('Manager (MCC) account, if any'),
  developerToken: secretInput('Google Ads developer token'),
  clientId: text(256).describe('OAuth client id'),
  clientSecret: secretInput('OAuth client secret'),
  refreshToken: secretInput('OAuth refresh token'),
  apiVersion: z
    .string()
    .regex(/^v[0-9]{1,3}$/, 'must look like "v22"')
    .nullable()
    .optional(),
  conversionActions: z
    .record(EventName, z.string().regex(/^[0-9]{1,20}$/, 'must be a numeric conversion action id'))
    .nullable()
    .optional()
    .describe('Event name → conversion action id; replaces the whole table'),
});

export const MetaPatch = z
  .strictObject({ ...common, settings: MetaSettingsPatch.optional() })
  .meta({ id: 'MetaIntegrationUpdate' });
export const TiktokPatch = z
  .strictObject({ ...common, settings: TiktokSettingsPatch.optional() })
  .meta({ id: 'TiktokIntegrationUpdate' });
export const GooglePatch = z
  .strictObject({ ...common, settings: GoogleSettingsPatch.optional() })
  .meta({ id: 'GoogleIntegrationUpdate' });
export type IntegrationPatch = z.infer<typeof MetaPatch | typeof TiktokPatch | typeof GooglePatch>;

const resource = <N extends string, S extends z.ZodType>(network: N, settings: S, id: string) =>
  z
    .object({
      network: z.literal(network),
      enabled: z.boolean(),
      status: z.enum(['not_configured', 'ok', 'failing', 'unauthorized']),
      settings,
      eventMapping: EventMapping,
      forwardClientPurchases: z.boolean(),
      lastDeliveryAt: z.iso.datetime().nullable(),
      lastError: z.string().nullable(),
      updatedAt: z.iso.datetime().nullable(),
    })
    .meta({ id });

export const MetaIntegration = resource(
  'meta',
  z.object({
    datasetId: z.string().nullable(),
    accessToken: SecretState,
    testEventCode: z.string().nullable(),
  }),
  'MetaIntegration',
);
export const TiktokIntegration = resource(
  'tiktok',
  z.object({
    pixelCode: z.string().nullable(),
    accessToken: SecretState,
    testEventCode: z.string().nullable(),
  }),
  'TiktokIntegration',
);
export const GoogleIntegration = resource(
  'google',
  z.object({
    customerId: z.string().nullable(),
    loginCustomerId: z.string().nullable(),
    developerToken: SecretState,
    clientId: z.string().nullable(),
    clientSecret: SecretState,
    refreshToken: SecretState,
    apiVersion: z.string(),
    conversionActions: z.record(z.string(), z.string()),
  }),
  'GoogleIntegration',
);

export const Integrations = z
  .object({
    meta: MetaIntegration,
    google: GoogleIntegration,
    tiktok: TiktokIntegration,
    revenuecat: RevenueCatWebhook,
    superwall: SuperwallWebhook,
  })
  .meta({ id: 'Integrations' });

export const DeliveryStatus = z.enum(['pending', 'retrying', 'delivered', 'failed', 'skipped']);
export const Delivery = z
  .object({
    id: z.string().meta({ example: 'dlv_8fQ2mZ0aLr4sT1xY' }),
    network: z.enum(['meta', 'google', 'tiktok']),
    eventId: z.string(),
    eventName: z.string(),
    networkEventName: z.string().nullable(),
    forwardId: z.string().describe('The deterministic id the network deduplicates on'),
    status: DeliveryStatus,
    attempts: z.number().int(),
    httpStatus: z.number().int().nullable(),
    error: z.string().nullable().describe('Why it failed or was skipped'),
    nextAttemptAt: z.iso.datetime().nullable(),
    request: z
      .record(z.string(), z.unknown())
      .nullable()
      .describe('The body sent for this delivery, secrets and access tokens removed'),
    response: z.unknown().nullable(),
    createdAt: z.iso.datetime(),
    deliveredAt: z.iso.datetime().nullable(),
  })
  .meta({ id: 'Delivery' });
