/**
 * The set-based install write against PostgreSQL: installs that arrive together share one
 * statement and one commit; each answer is its own install's attribution; two first configures of
 * one device in the same batch still make one install; one failing install fails alone.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../../test/helpers.ts';
import { newId } from '../../lib/crypto.ts';
import { organicFields } from '../attribution/waterfall.ts';
import { InstallWriter, type NewInstall } from './install-writer.ts';
import { readConfigureBody } from './sdk-body.ts';
import { createSdkApp, type SdkApp } from './test-support.ts';

let t: TestServer;
let app: SdkApp;
beforeAll(async () => {
  t = await startTestServer({}, undefined, { jobs: false });
  app = await createSdkApp(t);
});
afterAll(() => t?.close());

const install = (deviceId: string, over: Partial<NewInstall> = {}): NewInstall => {
  const now = new Date();
  return {
    attributionId: newId('att'),
    installEventId: newId('evt'),
    key: { appId: app.appId, environment: 'live', deviceId },
    body: readConfigureBody({
      device_id: deviceId,
      device_info: {
        platform: 'ios',
        os_version: '17.5',
        locale: 'de_DE',
        timezone: 'Europe/Berlin',
      },
      customer_user_id: `user-${deviceId}`,
    }),
    platform: 'ios',
    resolution: {
      status: 'resolved',
      fields: organicFields(),
      explanation: { rule: 'organic', candidates: 0, windowHours: null, considered: [] },
      apple: null,
    },
    extra: {
      installedAt: now,
      now,
      userAgent: 'FitTrack/1.0 CFNetwork',
      sdkVersion: '0.4.1',
      bundleMismatch: false,
      country: 'DE',
    },
    forward: false,
    ...over,
  };
};
const stored = (deviceId: string) =>
  t.sql<
    { devices: number; attributions: number; installs: number; users: number; language: string }[]
  >`
    select (select count(*)::int from devices where device_id = ${deviceId}) as devices,
           (select count(*)::int from attributions where device_id = ${deviceId}) as attributions,
           (select count(*)::int from events where device_id = ${deviceId} and event_name = 'install') as installs,
           (select count(*)::int from device_users u join devices d on d.id = u.device_pk where d.device_id = ${deviceId}) as users,
           (select language from devices where device_id = ${deviceId}) as language`;

describe('InstallWriter', () => {
  it('writes installs that arrive together in one batch, each caller getting its own attribution', async () => {
    const writer = new InstallWriter(t.sql, pino({ level: 'silent' }), {
      maxBatch: 64,
      maxConcurrent: 1,
    });
    const items = Array.from({ length: 12 }, (_, i) => install(`batch-${newId('d')}-${i}`));
    const answers = await Promise.all(items.map((i) => writer.submit(i)));
    expect(answers.map((a) => a.id)).toEqual(items.map((i) => i.attributionId));
    for (const a of answers) expect(a).toMatchObject({ network: 'organic', match_type: 'organic' });
    for (const i of items)
      expect((await stored(i.key.deviceId))[0]).toEqual({
        devices: 1,
        attributions: 1,
        installs: 1,
        users: 1,
        language: 'de',
      });
    // The first install alone (the writer was idle), the eleven others together: two
    // transactions (rows written by one transaction share its xmin).
    const [{ transactions }] = await t.sql<{ transactions: number }[]>`
      select count(distinct xmin::text)::int as transactions from attributions
      where id = any(${items.map((i) => i.attributionId)})`;
    expect(transactions).toBe(2);
  });

  it('two first configures of one device in one batch make one install, and both get its attribution', async () => {
    const writer = new InstallWriter(t.sql, pino({ level: 'silent' }));
    const d = `dup-${newId('d')}`;
    const [a, b] = await Promise.all([writer.submit(install(d)), writer.submit(install(d))]);
    expect(a.id).toBe(b.id);
    expect((await stored(d))[0]).toMatchObject({ devices: 1, attributions: 1, installs: 1 });
  });

  it('an install that fails fails alone; the others of its batch are written', async () => {
    const writer = new InstallWriter(t.sql, pino({ level: 'silent' }), {
      maxBatch: 64,
      maxConcurrent: 1,
    });
    const earlier = install(`earlier-${newId('d')}`);
    await writer.submit(earlier);
    const good = [install(`ok-${newId('d')}`), install(`ok-${newId('d')}`)];
    // An event id already taken: its install event cannot be inserted.
    const bad = install(`bad-${newId('d')}`, { installEventId: earlier.installEventId });
    const results = await Promise.allSettled([
      writer.submit(install(`first-${newId('d')}`)), // written alone; the next three queue together
      writer.submit(good[0]),
      writer.submit(bad),
      writer.submit(good[1]),
    ]);
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
    ]);
    for (const g of good) expect((await stored(g.key.deviceId))[0].installs).toBe(1);
    expect((await stored(bad.key.deviceId))[0]).toMatchObject({ attributions: 0, installs: 0 });
  });
});
