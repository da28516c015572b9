import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  createOrg,
  eventually,
  startTestServer,
  type TestServer,
} from '../../../test/helpers.ts';
import { JOBS } from '../../jobs.ts';
import { enqueueJob } from '../../queue/enqueue.ts';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ SESSION_IDLE_HOURS: '2' });
});
afterAll(() => t?.close());

describe('session lifetime', () => {
  it('a session unused for SESSION_IDLE_HOURS ends; one in use stays', async () => {
    const idle = await createOrg(t);
    const busy = await createOrg(t);
    await t.sql`update sessions set last_seen_at = now() - interval '121 minutes' where org_id = ${idle.orgId}`;
    await t.sql`update sessions set last_seen_at = now() - interval '119 minutes' where org_id = ${busy.orgId}`;
    expect((await api(t, 'GET', '/api/v1/me', { auth: idle.session })).status).toBe(401);
    expect((await api(t, 'GET', '/api/v1/me', { auth: busy.session })).status).toBe(200);
    // Use moves the idle deadline.
    const [s] = await t.sql<{ last_seen_at: Date }[]>`
      select last_seen_at from sessions where org_id = ${busy.orgId}`;
    expect(Date.now() - s.last_seen_at.getTime()).toBeLessThan(60_000);
  });

  it('the session_cleanup job deletes ended sessions, idle or expired, and keeps live ones', async () => {
    expect(JOBS.session_cleanup.cron).toBe('17 * * * *');
    const idle = await createOrg(t);
    const expired = await createOrg(t);
    const live = await createOrg(t);
    await t.sql`update sessions set last_seen_at = now() - interval '3 hours' where org_id = ${idle.orgId}`;
    await t.sql`update sessions set expires_at = now() - interval '1 second' where org_id = ${expired.orgId}`;
    await enqueueJob(t.sql, 'session_cleanup', {}); // as the scheduler does at minute 17
    await eventually(async () => {
      const [{ count }] = await t.sql<{ count: string }[]>`
        select count(*) from sessions where org_id in (${idle.orgId}, ${expired.orgId})`;
      return count === '0';
    });
    const [{ count }] = await t.sql<{ count: string }[]>`
      select count(*) from sessions where org_id = ${live.orgId}`;
    expect(count).toBe('1');
  });
});
