import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test/helpers.ts';
import { campaignOf, decodeValue, installEstimate, revisionAt } from './decode.ts';
import { deleteExpiredPostbacks } from './queries.ts';
import type { SchemaRevision } from './schema-store.ts';

const campaigns = {
  '12': { network: 'meta', campaign: 'two' },
  '123': { network: 'google', campaign: 'three' },
  '1234': { network: 'tiktok', campaign: 'four' },
  '7': { network: 'other', campaign: null },
};

describe('campaign mapping', () => {
  it('takes the longest prefix of 4, 3, then 2 digits of the source identifier', () => {
    expect(campaignOf(campaigns, '1234', null)?.network).toBe('tiktok');
    expect(campaignOf(campaigns, '1239', null)?.network).toBe('google');
    expect(campaignOf(campaigns, '1299', null)?.network).toBe('meta');
    expect(campaignOf(campaigns, '123', null)?.network).toBe('google');
    expect(campaignOf(campaigns, '12', null)?.network).toBe('meta');
    expect(campaignOf(campaigns, '9999', null)).toBeNull();
    expect(campaignOf(campaigns, '1', null)).toBeNull(); // one digit is never a source identifier
  });
  it('maps a legacy campaign id exactly', () => {
    expect(campaignOf(campaigns, null, 7)).toEqual({ network: 'other', campaign: null });
    expect(campaignOf(campaigns, null, 12)?.network).toBe('meta');
    expect(campaignOf(campaigns, null, 8)).toBeNull();
  });
});

describe('schema revisions', () => {
  const rev = (revision: number, day: string): SchemaRevision => ({
    revision,
    validFrom: new Date(`${day}T00:00:00Z`),
    schema: {
      fine: [{ value: 5, when: { event: `e${revision}`, revenueMax: 3 } }],
      coarse: [
        { window: 1, value: 'high', when: { event: 'purchase', revenueMin: 10, revenueMax: 20 } },
        { window: 1, value: 'high', when: { event: 'subscribe', revenueMin: 5, revenueMax: 50 } },
        { window: 1, value: 'low', when: { event: 'open', revenueMin: 1 } },
        { window: 1, value: 'low', when: { event: 'tap' } },
      ],
      lock: [],
      campaigns: {},
    },
  });
  const revs = [rev(1, '2026-01-01'), rev(2, '2026-02-01')];

  it('picks the revision in force at the estimated install, the first one before any', () => {
    expect(revisionAt(revs, new Date('2026-01-31T23:59:59Z'))?.revision).toBe(1);
    expect(revisionAt(revs, new Date('2026-02-01T00:00:00Z'))?.revision).toBe(2);
    expect(revisionAt(revs, new Date('2025-06-01T00:00:00Z'))?.revision).toBe(1);
    expect(revisionAt([], new Date())).toBeNull();
    const received = new Date('2026-02-10T00:00:00Z');
    expect(installEstimate(received, 0).toISOString()).toBe('2026-02-06T12:00:00.000Z');
    expect(installEstimate(received, 2).toISOString()).toBe('2026-01-02T12:00:00.000Z');
  });

  it('decodes fine values to their rule and coarse values to every rule of that window', () => {
    expect(decodeValue(revs[0], { fine: 5, coarse: null, window: 0 })).toEqual({
      events: ['e1'],
      revenueMin: 0,
      revenueMax: 3,
      schemaRevision: 1,
    });
    expect(decodeValue(revs[1], { fine: null, coarse: 'high', window: 1 })).toEqual({
      events: ['purchase', 'subscribe'],
      revenueMin: 5,
      revenueMax: 50,
      schemaRevision: 2,
    });
    expect(decodeValue(revs[1], { fine: null, coarse: 'low', window: 1 })).toMatchObject({
      events: ['open', 'tap'],
      revenueMin: 0,
      revenueMax: null,
    });
    expect(decodeValue(revs[1], { fine: null, coarse: 'high', window: 0 })).toMatchObject({
      events: [],
      revenueMin: null,
    });
    expect(decodeValue(revs[1], { fine: null, coarse: null, window: 0 })).toBeNull();
    expect(decodeValue(null, { fine: 5, coarse: null, window: 0 })).toBeNull();
  });
});

describe('retention', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db?.drop());

  it('deletes postbacks older than 90 days and keeps the rest', async () => {
    for (const [id, days] of [
      ['skp_old', 91],
      ['skp_edge', 89],
      ['skp_new', 0],
    ] as const)
      await db.sql`insert into skan_postbacks (id, kind, verified, raw, received_at)
        values (${id}, 'skadnetwork', false, '{}', now() - make_interval(days => ${days}))`;
    expect(await deleteExpiredPostbacks(db.sql)).toBe(1);
    const left = await db.sql`select id from skan_postbacks order by id`;
    expect(left.map((r) => r.id)).toEqual(['skp_edge', 'skp_new']);
  });
});
