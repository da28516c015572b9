/**
 * Which app an SDK request is for: the `X-AppRefer-Key` header (a `pk_live_` or `pk_test_` key,
 * which also sets the environment), else, from SDK 0.1.0, the legacy `X-App-Id` header or the
 * body's `app_id` (live). Plain functions over the in-process app cache: no query per request.
 */
import type { FastifyRequest } from 'fastify';
import type { SdkAppCache, SdkCredential } from './app-cache.ts';
import { bodyAppId, parseJsonObject } from './sdk-body.ts';
import { SdkError } from './sdk-errors.ts';

/** A request header, trimmed; null when absent or empty. */
export const header = (req: FastifyRequest, name: string): string | null => {
  const v = req.headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s ? s.trim() : null;
};

/** X-AppRefer-Key wins; else legacy X-App-Id, else body app_id (SDK 0.1.0, live). */
async function authenticate(
  apps: SdkAppCache,
  req: FastifyRequest,
  body: Record<string, unknown> | null,
): Promise<SdkCredential> {
  const key = header(req, 'x-apprefer-key');
  if (key) {
    const cred = await apps.bySdkKey(key);
    if (!cred) throw new SdkError(401, 'invalid_sdk_key', 'Unknown SDK key');
    return cred;
  }
  const legacy = header(req, 'x-app-id') || bodyAppId(body);
  if (!legacy) throw new SdkError(401, 'invalid_sdk_key', 'Missing X-AppRefer-Key header');
  const cred = await apps.byLegacyAppId(legacy);
  if (!cred) throw new SdkError(401, 'invalid_sdk_key', 'Unknown app id');
  return cred;
}

/** The caller's app and the parsed body. With a key, a bad key is a 401 whatever the body; the legacy form needs the body's app_id. */
export async function credentialAndBody(apps: SdkAppCache, req: FastifyRequest) {
  const keyed = header(req, 'x-apprefer-key') ? await authenticate(apps, req, null) : null;
  const raw = parseJsonObject(req.body as Buffer | undefined);
  return { cred: keyed ?? (await authenticate(apps, req, raw)), raw };
}
