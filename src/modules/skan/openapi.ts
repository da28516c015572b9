/**
 * The SKAN root routes in the OpenAPI document (documentation only: they parse their own input):
 * Apple's postback receivers and the app's `/api/track/skan`.
 */
import type { Services } from '../../services.ts';
import { MAX_POSTBACK_BYTES, RECEIVER_PATHS } from './receiver.ts';

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

const receiver = (servers: { url: string }[], framework: string) => ({
  post: {
    tags: ['SKAN'],
    summary: `Receive a ${framework} postback from Apple (developer copy)`,
    description:
      'Any Content-Type; the body is stored verified, or unverified with the reason (docs/skan.md). Deduplicated by `transaction-id` / `postback-identifier`; a body with `jws-string` is AdAttributionKit whichever path it comes to. Also answered without the trailing slash.',
    servers,
    security: [],
    requestBody: {
      required: true,
      content: { 'application/json': { schema: { type: 'object', additionalProperties: true } } },
    },
    responses: {
      200: {
        description: 'Stored (or a duplicate of one stored)',
        content: {
          'application/json': {
            schema: { type: 'object', properties: { status: { const: 'received' } } },
          },
        },
      },
      400: error('The body is not JSON (`invalid_json`)'),
      413: error(`Body over ${MAX_POSTBACK_BYTES} bytes`),
      503: error('Not stored (database unavailable): Apple retries'),
    },
  },
});

const SDK_KEY = {
  in: 'header',
  name: 'X-AppRefer-Key',
  required: false,
  schema: { type: 'string', example: 'pk_live_8b2e6d1f0a9c4e73a1b2c3d4' },
  description: "The app's SDK key (as for /api/track/event); `pk_test_` reads sandbox devices",
};
const SDK_ERRORS = {
  400: error('Body not a JSON object (`invalid_json`), or no `device_id` (`validation_error`)'),
  401: error('Missing or unknown SDK key (`invalid_sdk_key`)'),
  503: error('Temporarily unavailable; retry later'),
};

/** For ModuleRegistration.documentedPaths. */
export function skanPaths({ config }: Services) {
  const servers = [...new Set([config.trackingUrl, config.publicUrl])].map((url) => ({ url }));
  const [wellKnownSkan, productSkan, wellKnownAak] = RECEIVER_PATHS;
  return {
    [wellKnownSkan]: receiver(servers, 'SKAdNetwork'),
    [productSkan]: receiver(servers, 'SKAdNetwork'),
    [wellKnownAak]: receiver(servers, 'AdAttributionKit'),
    '/api/track/skan': {
      get: {
        tags: ['SDK'],
        summary: "SDK: the app's current SKAN conversion-value schema",
        servers,
        security: [],
        parameters: [SDK_KEY],
        responses: {
          200: {
            description: 'The schema (revision 0 and empty before the first PUT)',
            content: {
              'application/json': { schema: { $ref: '#/components/schemas/SkanSchema' } },
            },
          },
          401: SDK_ERRORS[401],
        },
      },
      post: {
        tags: ['SDK'],
        summary:
          'SDK: the conversion values a device should report now (pass them to updatePostbackConversionValue)',
        description:
          'From the device’s recorded events and revenue since install, against the current schema (docs/skan.md).',
        servers,
        security: [],
        parameters: [SDK_KEY],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['device_id'],
                properties: { device_id: { type: 'string' } },
              },
            },
          },
        },
        responses: {
          200: {
            description: 'The values; `window` null once every window has closed',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: {
                    window: { type: ['integer', 'null'], enum: [0, 1, 2, null] },
                    window_ends_at: { type: ['string', 'null'], format: 'date-time' },
                    fine_value: { type: ['integer', 'null'], minimum: 0, maximum: 63 },
                    coarse_value: {
                      type: ['string', 'null'],
                      enum: ['low', 'medium', 'high', null],
                    },
                    lock_window: { type: 'boolean' },
                    schema_revision: { type: 'integer' },
                  },
                },
              },
            },
          },
          ...SDK_ERRORS,
          404: error('No configure recorded for this device (`unknown_device`)'),
        },
      },
    },
  };
}
