import type { ApiInstance } from '../../http/types.ts';
import type { Services } from '../../services.ts';
import { asaLookupStatus } from '../attribution/asa-resolution.ts';

export async function healthRoutes(app: ApiInstance, { sql, log }: Services) {
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
    try {
      await Promise.race([
        sql`select 1`,
        new Promise((_, rej) => setTimeout(() => rej(new Error('timeout')), 2000)),
      ]);
    } catch {
      return reply.code(503).send({ status: 'unavailable', database: 'unreachable' });
    }
    // Outside services do not make this process unready; they are reported for the operator.
    const appleAdServices = await asaLookupStatus(sql).catch((err) => {
      log.warn({ err }, 'readyz: Apple lookup status unavailable');
      return null;
    });
    return { status: 'ok', database: 'reachable', appleAdServices };
  });
}
