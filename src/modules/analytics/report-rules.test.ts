import { describe, expect, it } from 'vitest';
import { ApiError } from '../../http/errors.ts';
import { computeKpis, emptySums, pickMetrics } from './definitions.ts';
import { convert, roundMoney } from './money.ts';
import { addDays, dayCount, daysOf, previousPeriod, resolvePeriod, todayIn } from './period.ts';
import { compareStats, portfolioCurrency, sortKey } from './reports.ts';
import type { AppRow } from '../apps/queries.ts';

describe('periods', () => {
  const now = new Date('2026-03-08T03:30:00Z');
  it.each([
    ['America/New_York', '2026-03-07'],
    ['Asia/Kathmandu', '2026-03-08'],
  ])('today in %s is %s', (zone, today) => {
    expect(todayIn(zone, now)).toBe(today);
  });
  it.each([
    [{}, 'America/New_York', { from: '2026-03-01', to: '2026-03-07' }],
    [{ to: '2026-01-03' }, 'UTC', { from: '2025-12-28', to: '2026-01-03' }],
    [{ from: '2026-03-01' }, 'UTC', { from: '2026-03-01', to: '2026-03-08' }],
  ])('default to the last 7 days ending today in the app zone: %o in %s', (q, zone, expected) => {
    expect(resolvePeriod(q, zone, now)).toEqual(expected);
  });
  it.each([
    ['from after to', { from: '2026-03-02', to: '2026-03-01' }, 'from'],
    ['a span over 400 days', { from: '2025-01-01', to: '2026-02-05' }, 'to'],
  ])('reject from after to and spans over 400 days, naming the field: %s', (_case, q, field) => {
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as ApiError).details?.[0].path;
      }
      return null;
    };
    expect(err(() => resolvePeriod(q, 'UTC', now))).toBe(field);
  });
  it('accept a span of exactly 400 days', () => {
    expect(resolvePeriod({ from: '2025-01-02', to: '2026-02-05' }, 'UTC', now).from).toBe(
      '2025-01-02',
    );
  });
  it('previous period has the same length, right before', () => {
    expect(previousPeriod({ from: '2026-03-01', to: '2026-03-31' })).toEqual({
      from: '2026-01-29',
      to: '2026-02-28',
    });
    expect(dayCount({ from: '2024-02-28', to: '2024-03-01' })).toBe(3);
    expect(daysOf({ from: '2026-12-30', to: '2027-01-01' })).toEqual([
      '2026-12-30',
      '2026-12-31',
      '2027-01-01',
    ]);
    expect(addDays('2026-03-08', -8)).toBe('2026-02-28');
  });
});

describe('money', () => {
  const fx = { EUR: 1.1, JPY: 0.0067 };
  it.each([
    [10, 'EUR', 'USD', fx, 11],
    [11, 'USD', 'EUR', fx, 10],
    [5, 'GBP', 'USD', fx, null],
    [5, 'GBP', 'GBP', {}, 5],
  ])(
    'converts only with both rates; USD is the base: %d %s → %s',
    (amount, from, to, rates, expected) => {
      const converted = convert(amount, from, to, rates);
      if (expected === null) expect(converted).toBeNull();
      else expect(converted).toBeCloseTo(expected);
    },
  );
  it.each([
    [0.1 + 0.2, 'USD', 0.3],
    [1199.6, 'JPY', 1200],
    [1.2345, 'BHD', 1.235],
    [-0.001, 'USD', 0],
  ])('rounds to the minor unit of the currency: %d %s → %d', (amount, currency, expected) => {
    expect(roundMoney(amount, currency)).toBe(expected);
  });
});

describe('KPIs', () => {
  it('derive rates, ARPU and never mix unconvertible currencies', () => {
    const s = {
      ...emptySums(),
      clicks: 3,
      installs: 4,
      attributedInstalls: 1,
      purchases: 2,
      revenueByCurrency: new Map([
        ['USD', 10],
        ['EUR', 5],
      ]),
    };
    const k = computeKpis(s, 2, 'USD', {});
    expect(k).toMatchObject({
      organicInstalls: 3,
      pendingInstalls: 0,
      clickToInstallRate: 0.3333,
      revenue: { amount: 10, currency: 'USD' },
      revenueByCurrency: [
        { amount: 5, currency: 'EUR' },
        { amount: 10, currency: 'USD' },
      ],
      unconvertedCurrencies: ['EUR'],
      arpu: { amount: 2.5, currency: 'USD' },
      payingUsers: 2,
    });
    expect(computeKpis(s, 2, 'USD', { EUR: 1.2 }).revenue).toEqual({ amount: 16, currency: 'USD' });
    const none = computeKpis(emptySums(), 0, 'EUR', {});
    expect([none.clickToInstallRate, none.arpu, none.revenue]).toEqual([
      null,
      null,
      { amount: 0, currency: 'EUR' },
    ]);
    expect(Object.keys(pickMetrics(k, ['clicks', 'revenue'])).sort()).toEqual([
      'clicks',
      'revenue',
      'revenueByCurrency',
      'unconvertedCurrencies',
    ]);
  });
  it.each([
    [['EUR', 'EUR'], undefined, 'EUR'],
    [['EUR', 'JPY'], undefined, 'USD'],
    [['EUR', 'JPY'], 'GBP', 'GBP'],
  ])(
    'totals currency: the shared one, else USD, else the requested one: %o, %s → %s',
    (currencies, requested, expected) => {
      expect(
        portfolioCurrency(
          currencies.map((currency) => ({ currency }) as AppRow),
          requested,
        ),
      ).toBe(expected);
    },
  );
});

describe('stats order', () => {
  it('first dimension ascending, then installs descending, then the other dimensions; null first', () => {
    const rows = [
      { dimensions: { date: '2026-03-02', network: 'meta' }, installs: 1 },
      { dimensions: { date: '2026-03-01', network: 'tiktok' }, installs: 5 },
      { dimensions: { date: '2026-03-01', network: 'google' }, installs: 5 },
      { dimensions: { date: '2026-03-01', network: null }, installs: 9 },
      { dimensions: { date: null, network: 'meta' }, installs: 0 },
    ];
    const sorted = [...rows].sort((a, b) =>
      compareStats(sortKey(a, ['date', 'network']), sortKey(b, ['date', 'network'])),
    );
    expect(sorted.map((r) => [r.dimensions.date, r.dimensions.network])).toEqual([
      [null, 'meta'],
      ['2026-03-01', null],
      ['2026-03-01', 'google'],
      ['2026-03-01', 'tiktok'],
      ['2026-03-02', 'meta'],
    ]);
  });
});
