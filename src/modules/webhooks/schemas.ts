import { z } from 'zod';
import { PageQuery, SecretState } from '../../http/envelope.ts';
import { Instant } from '../../http/instant.ts';

/** One schema per shape (docs/spec/api.md "Integrations, webhooks, qualified trials"). */

const common = {
  enabled: z.boolean(),
  webhookUrl: z.string().describe('The exact URL to paste into the sender'),
  updatedAt: z.iso.datetime().nullable(),
};

export const RevenueCatWebhook = z
  .object({
    network: z.literal('revenuecat'),
    ...common,
    authorization: SecretState.extend({
      value: z
        .string()
        .optional()
        .describe(
          'The full secret: only in the answer of the PATCH that generated it (rotateSecret, or the first enable)',
        ),
    }).describe("The Authorization header value RevenueCat sends (raw or 'Bearer …')"),
  })
  .meta({ id: 'RevenueCatWebhook' });

export const SuperwallWebhook = z
  .object({
    network: z.literal('superwall'),
    ...common,
    signingSecret: SecretState.describe('The whsec_… signing secret Superwall shows'),
  })
  .meta({ id: 'SuperwallWebhook' });

export const RevenueCatPatch = z
  .strictObject({
    enabled: z
      .boolean()
      .optional()
      .describe('Enabling it without a secret generates one (returned once, like rotateSecret)'),
    rotateSecret: z
      .literal(true)
      .optional()
      .describe('Generate a new secret; the answer holds it once in authorization.value'),
  })
  .meta({ id: 'RevenueCatWebhookPatch' });

export const SuperwallPatch = z
  .strictObject({
    enabled: z.boolean().optional().describe('Needs a signing secret'),
    signingSecret: z
      .string()
      .trim()
      .regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/, 'must be the whsec_… secret Superwall shows')
      .max(256)
      .nullable()
      .optional()
      .describe(
        'The whsec_… secret from Superwall; write-only, encrypted at rest; null clears it (and disables)',
      ),
  })
  .meta({ id: 'SuperwallWebhookPatch' });

export const QualifiedTrialStatus = z.enum(['held', 'qualified', 'disqualified', 'forwarded']);

export const QualifiedTrial = z
  .object({
    id: z.string().meta({ example: 'qt_9Xk2mP7sLw1tQ4Fz' }),
    deviceId: z.string().nullable(),
    userId: z.string().nullable(),
    productId: z.string().nullable(),
    source: z.enum(['revenuecat', 'superwall']),
    environment: z.enum(['live', 'sandbox']),
    status: QualifiedTrialStatus,
    startedAt: z.iso.datetime(),
    dueAt: z.iso.datetime().describe('When the hold ends: the first run after it decides'),
    decidedAt: z.iso.datetime().nullable(),
    reason: z
      .string()
      .nullable()
      .describe('Why it was disqualified, or why a qualified one was not forwarded'),
    trialEventId: z.string().describe('The start_trial event'),
    qualifiedEventId: z
      .string()
      .nullable()
      .describe('The qualified_trial event recorded when it qualified'),
    attribution: z.object({ network: z.string().nullable(), campaign: z.string().nullable() }),
  })
  .meta({ id: 'QualifiedTrial' });

export const QualifiedTrialQuery = z.strictObject({
  ...PageQuery,
  status: QualifiedTrialStatus.optional(),
  environment: z.enum(['live', 'sandbox']).default('live'),
  from: Instant.optional().describe('Trials started at or after (a day: from its start, UTC)'),
  to: Instant.optional().describe('Trials started at or before (a day: to its end, UTC)'),
});
