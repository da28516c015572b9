/**
 * How the SDK endpoints answer when something fails: their own envelope `{"error": {code, message}}`
 * (docs/spec/sdk-protocol.md), never a 3xx, 415 or 429; a 503 with Retry-After when the server sheds load
 * or a request outlives its deadline, so that SDKs retry later.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { INVALID_TEXT_MESSAGE, isInvalidTextError, isTransient } from '../../db/errors.ts';
import { MAX_BODY_BYTES } from '../../http/types.ts';
import { OverloadedError } from './event-writer.ts';
import { BodyError } from './sdk-body.ts';
import { JSON_UTF8 } from '../../http/raw-body.ts';

/** Hard internal deadline of a request (clients time out at 10 s). */
const REQUEST_DEADLINE_MS = 5_000;

/** A refusal with its HTTP status and SDK error code (a bad or unknown key). */
export class SdkError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
class DeadlineError extends Error {}

/**
 * `p`, or a 503 once the request deadline passes; `abandon` is then aborted, so that the work
 * behind `p` stops where it safely can (never half-way through a write).
 */
export const withDeadline = <T>(p: Promise<T>, abandon?: AbortController): Promise<T> => {
  let timer: NodeJS.Timeout;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      abandon?.abort();
      reject(new DeadlineError('deadline'));
    }, REQUEST_DEADLINE_MS);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
};

/** The error handler of the SDK routes: maps everything thrown to a status and an SDK error code. */
export function sendSdkError(
  err: Error & { code?: string; statusCode?: number },
  req: FastifyRequest,
  reply: FastifyReply,
) {
  let status = 500;
  let code = 'internal_error';
  let message = 'Internal error';
  if (err instanceof SdkError) ({ status, code, message } = err);
  else if (err instanceof BodyError) {
    status = 400;
    code = err.code;
    message = err.message;
  } else if (isInvalidTextError(err)) {
    status = 400;
    code = 'validation_error';
    message = `Body: ${INVALID_TEXT_MESSAGE}`;
  } else if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    status = 413;
    code = 'payload_too_large';
    message = `Body over the limit of ${MAX_BODY_BYTES} bytes`;
  } else if (err instanceof OverloadedError || err instanceof DeadlineError || isTransient(err)) {
    status = 503;
    code = 'service_unavailable';
    message = 'Temporarily unavailable; retry later';
    reply.header('retry-after', '5');
  } else if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    // Any other client-side failure of Fastify (malformed length, aborted body…): never a 415 or 429.
    status = 400;
    code = 'invalid_json';
    message = 'Body could not be read';
  }
  if (status === 500)
    req.log.error({ err, reqId: req.id, path: req.url.split('?')[0] }, 'sdk request failed');
  else if (status === 503)
    req.log.warn(
      { err: { message: err.message, code: err.code }, reqId: req.id },
      'sdk request shed',
    );
  reply
    .code(status)
    .type(JSON_UTF8)
    .send(JSON.stringify({ error: { code, message } }));
}
