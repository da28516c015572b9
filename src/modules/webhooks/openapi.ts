/**
 * The webhook receivers and the cron endpoint in the OpenAPI document (documentation only: they
 * read their own raw bodies, since Svix signs the exact bytes).
 */
import type { Services } from '../../services.ts';
import { MAX_WEBHOOK_BYTES } from './routes.ts';

const error = (description: string) => ({
  description,
  content: {
    'application/json': {
      schema: {
        type: 'object',
        properties: {
          error: {
            type: 'object',
            properties: { code: { type: 'string' }, message: { type: 'string' } },
          },
        },
      },
    },
  },
});

const APP_ID = {
  in: 'path',
  name: 'appId',
  required: true,
  schema: { type: 'string', maxLength: 64 },
  description: 'The app the webhook is configured for',
};

const accepted = {
  description:
    'Recorded durably before this answer, or acknowledged without effect: `status` says which — `recorded` (on its device), `unmatched` (no device yet: counted unattributed, matched later), `ignored` (a type not recorded; stored raw), `test`, `duplicate` (this event id was seen before)',
  content: {
    'application/json': {
      schema: {
        type: 'object',
        properties: {
          status: { enum: ['recorded', 'unmatched', 'ignored', 'test', 'duplicate'] },
        },
      },
    },
  },
};

const receiverErrors = {
  400: error(
    'Not JSON (`invalid_json`), or not a usable event: the message names the field (`validation_error`)',
  ),
  404: error('No such app, or this webhook is not enabled for it'),
  413: error(`Body over ${MAX_WEBHOOK_BYTES} bytes`),
  503: error('Not recorded (overloaded or database unavailable): the sender retries'),
};

/** For ModuleRegistration.documentedPaths. */
export function webhookPaths({ config }: Services) {
  const servers = [{ url: config.publicUrl }];
  const body = {
    required: true,
    content: { 'application/json': { schema: { type: 'object', additionalProperties: true } } },
  };
  return {
    '/api/webhook/revenuecat/{appId}': {
      post: {
        tags: ['Webhooks'],
        summary: 'Receive a RevenueCat webhook',
        description:
          'Authorization: the secret from `PATCH /api/v1/apps/{appId}/integrations/revenuecat`, raw or as `Bearer …` (constant-time compare). Deduplicated by `event.id` (30 days). Event mapping, device matching and qualified trials: docs/webhooks.md.',
        servers,
        security: [],
        parameters: [
          APP_ID,
          { in: 'header', name: 'Authorization', required: true, schema: { type: 'string' } },
        ],
        requestBody: body,
        responses: {
          200: accepted,
          ...receiverErrors,
          401: error('Missing or wrong Authorization'),
        },
      },
    },
    '/api/webhook/superwall/{appId}': {
      post: {
        tags: ['Webhooks'],
        summary: 'Receive a Superwall webhook (Svix-signed)',
        description:
          'Verified with the whsec_… signing secret over the raw body: `svix-id`, `svix-timestamp` (within 5 minutes), `svix-signature` (any `v1,` entry). Deduplicated by `svix-id` (30 days).',
        servers,
        security: [],
        parameters: [
          APP_ID,
          ...['svix-id', 'svix-timestamp', 'svix-signature'].map((name) => ({
            in: 'header',
            name,
            required: true,
            schema: { type: 'string' },
          })),
        ],
        requestBody: body,
        responses: {
          200: accepted,
          ...receiverErrors,
          401: error('Missing headers, a stale timestamp, or no matching signature'),
        },
      },
    },
    '/api/cron/qualified-trials': {
      post: {
        tags: ['Qualified trials'],
        summary: 'Decide every due qualified trial now (for an outside scheduler)',
        description:
          'The server also runs this by itself every QUALIFIED_TRIALS_INTERVAL_SECONDS. Authorization: `Bearer $CRON_SECRET`; without CRON_SECRET set, 404.',
        servers,
        security: [],
        responses: {
          200: {
            description: 'How many trials were decided',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: {
                    data: {
                      type: 'object',
                      properties: {
                        qualified: { type: 'integer' },
                        forwarded: { type: 'integer' },
                      },
                    },
                  },
                },
              },
            },
          },
          401: error('Missing or wrong bearer secret'),
          404: error('CRON_SECRET is not set'),
        },
      },
    },
  };
}
