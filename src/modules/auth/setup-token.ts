import type { Config } from '../../config.ts';
import { hmac } from '../../lib/crypto.ts';

/**
 * The first-run setup token: `POST /auth/setup` requires it, so that whoever reaches a fresh
 * instance first over the network cannot claim it. It is derived from SECRET_KEY (the same in
 * every server process on the database, nothing stored) and printed on the console at start
 * while no organization exists; once setup is done it opens nothing. `apprefer setup` needs none:
 * it runs with local access.
 */
export function setupToken(config: Pick<Config, 'secretKey'>): string {
  return hmac(config.secretKey, 'apprefer:first-run-setup').toString('base64url').slice(0, 32);
}
