/**
 * One bad event in a batch (Meta answers the whole batch 400, code 100): the batch is halved until
 * the bad event stands alone — far fewer requests than one per event — every other event is
 * delivered exactly once, and the bad one fails with Meta's message.
 */
import pino from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { api, startTestServer, type TestServer } from '../../../test/helpers.ts';
import { randomBase62 } from '../../lib/crypto.ts';
import { createSdkApp, insertClick, track } from '../tracking/test-support.ts';
import { forwardDue } from './sender.ts';
import { startFake, type Fake } from './test-support.ts';

const BAD_VALUE = 666;
let t: TestServer;
let meta: Fake;

beforeAll(async () => {
  meta = await startFake((r) => {
    const data = (r.body?.data ?? []) as { custom_data?: { value?: number } }[];
    if (data.some((e) => e.custom_data?.value === BAD_VALUE))
      return {
        status: 400,
        body: {
          error: {
            message: 'Invalid parameter',
            type: 'OAuthException',
            code: 100,
            error_user_msg: 'custom_data.value is not plausible',
            fbtrace_id: 'FAKE',
          },
        },
      };
    return { body: { events_received: data.length, messages: [], fbtrace_id: 'FAKE' } };
  });
  // No job runner: the test sends when everything is queued, so it all goes in one batch.
  t = await startTestServer({ META_GRAPH_URL: `${meta.url}v24.0/` }, undefined, { jobs: false });
});
afterAll(async () => {
  await t?.close();
  await meta?.close();
});

it('halves a batch rejected for one bad event; the others are delivered once', async () => {
  const app = await createSdkApp(t);
  const on = await api(t, 'PATCH', `/api/v1/apps/${app.appId}/integrations/meta`, {
    auth: app.apiKey,
    body: { enabled: true, settings: { datasetId: '1234567890', accessToken: 'EAAB-split-token' } },
  });
  expect(on.status).toBe(200);
  const N = 32;
  for (let i = 0; i < N; i++) {
    const clickId = await insertClick(t.sql, {
      appId: app.appId,
      network: 'meta',
      fbclid: `IwAR-${randomBase62(12)}`,
    });
    const deviceId = `split-${i}`;
    await track(t, 'configure', app.live, {
      device_id: deviceId,
      ar_click_id: clickId,
      device_info: { platform: 'android' },
    });
    await track(t, 'event', app.live, {
      device_id: deviceId,
      event_name: 'purchase',
      revenue: i === 7 ? BAD_VALUE : 1 + i,
      currency: 'USD',
    });
  }
  const sent = await forwardDue(t.sql, t.config, pino({ level: 'silent' }));
  expect(sent).toBe(2 * N); // installs and purchases, one batch

  const rows = await t.sql<{ forward_id: string; status: string; error: string | null }[]>`
    select forward_id, status, error from deliveries where app_id = ${app.appId}`;
  const failed = rows.filter((r) => r.status !== 'delivered');
  expect(failed).toEqual([
    expect.objectContaining({ status: 'failed', error: 'meta 100: Invalid parameter' }),
  ]);
  // Each delivered forward id was acknowledged by exactly one successful request.
  const acks = new Map<string, number>();
  for (const a of meta.answered.filter((x) => x.status === 200))
    for (const e of a.body.data as { event_id: string }[])
      acks.set(e.event_id, (acks.get(e.event_id) ?? 0) + 1);
  for (const r of rows.filter((x) => x.status === 'delivered'))
    expect([r.forward_id, acks.get(r.forward_id)]).toEqual([r.forward_id, 1]);
  // 64 events: the batch, then two halves per level down to the bad one — 13 requests, not 65.
  expect(meta.received.length).toBe(1 + 2 * Math.log2(2 * N));
});
