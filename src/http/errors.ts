import { z } from 'zod';

/** The error codes of docs/spec/api.md; the SDK endpoints add their own (`invalid_sdk_key`, `invalid_json`). */
export type ErrorCode =
  | 'validation_error'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'internal_error'
  | 'method_not_allowed'
  | 'service_unavailable'
  | 'invalid_sdk_key'
  | 'invalid_json';

export type ErrorDetail = { path: string; message: string };

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetail[],
  ) {
    super(message);
  }
}

export const notFound = (what = 'Resource') => new ApiError(404, 'not_found', `${what} not found`);
export const forbidden = (message = 'This credential is not allowed to do that') =>
  new ApiError(403, 'forbidden', message);
export const unauthorized = (message = 'Missing or invalid credentials') =>
  new ApiError(401, 'unauthorized', message);
export const conflict = (message: string) => new ApiError(409, 'conflict', message);
export const validationError = (path: string, message: string) =>
  new ApiError(400, 'validation_error', `${path}: ${message}`, [{ path, message }]);

/** The error envelope, also used to document every error response in OpenAPI. */
export const ErrorResponse = z
  .object({
    error: z.object({
      code: z.string().meta({ example: 'validation_error' }),
      message: z.string(),
      details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
      requestId: z.string().meta({ example: 'req_4Fq9ZkX2mP7sLw1t' }),
    }),
  })
  .meta({ id: 'Error' });

/** What each error status means on /api/v1: the descriptions of the document's error responses. */
export const ERROR_STATUSES = {
  400: 'Invalid request: a parameter, field or cursor is wrong, or the body is not JSON (`details` name the fields)',
  401: 'Missing, malformed, unknown or revoked credentials',
  403: 'The credential may not do this: its permission, its role, or a session mutation without X-CSRF-Token',
  404: 'Not found, or not visible to this credential',
  409: 'Conflicts with an existing resource',
  413: 'Body over 1 MiB',
  415: 'Body not sent as application/json',
  429: 'Rate limit exceeded; retry after Retry-After seconds',
} as const;
export type ErrorStatus = keyof typeof ERROR_STATUSES;

/**
 * The error responses of one operation, for its `schema.response`: list only the statuses the
 * route can return (401 and 429 apply to every /api/v1 route; 413 and 415 only where a body is read).
 */
export function errorResponses<const S extends ErrorStatus>(
  ...statuses: S[]
): Record<S, typeof ErrorResponse> {
  return Object.fromEntries(statuses.map((s) => [s, ErrorResponse])) as Record<
    S,
    typeof ErrorResponse
  >;
}
