import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test/helpers.ts';
import { buildClick, newClickId } from './capture.ts';
import { parseClickQuery } from './params.ts';
import { describeUserAgent } from './user-agent.ts';
import { ClickWriter } from './writer.ts';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db?.drop());

describe('click writer logs', () => {
  it('a row the database rejects is logged by click id, without the visitor data', async () => {
    const lines: string[] = [];
    const log = pino(
      { level: 'info' },
      new Writable({
        write(chunk, _enc, cb) {
          lines.push(String(chunk));
          cb();
        },
      }),
    );
    const ua = 'Mozilla/5.0 (iPhone) visitor-ua-marker';
    const click = buildClick(
      {
        id: 'pii-link',
        appId: 'app_00000000001',
        appName: 'X',
        network: 'meta',
        campaignName: null,
        destinations: { ios: null, android: null, web: null },
      },
      parseClickQuery('fbclid=visitor-fbclid-marker'),
      {
        at: new Date(),
        ip: '203.0.113.77',
        userAgent: ua,
        referer: null,
        language: 'en',
        country: null,
        device: describeUserAgent(ua),
        botReason: null,
        source: 'redirect',
      },
      newClickId(),
    );
    // An IP the database cannot store: the COPY fails on this row and names it in its error.
    const bad = { ...click, ip: '203.0.113.77-not-an-ip' };
    const w = new ClickWriter(db.url, log, {
      batchSize: 10,
      flushIntervalMs: 5,
      maxPending: 100,
      closeTimeoutMs: 5_000,
    });
    w.add(bad as typeof click);
    await w.close();
    const text = lines.join('');
    expect(text).toContain('row rejected by the database');
    expect(text).toContain(click.id);
    for (const secret of ['203.0.113.77', 'visitor-ua-marker', 'visitor-fbclid-marker'])
      expect(text).not.toContain(secret);
  });
});
