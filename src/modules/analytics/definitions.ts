/**
 * The KPI definitions, in words (OpenAPI descriptions) and as plain functions over summed rollup
 * rows. What counts as a click, install, trial, purchase or revenue is decided once, in SQL, in
 * migration 0004 (analytics_click_counts, analytics_is_attributed, analytics_revenue, …); these
 * texts describe exactly that.
 */
import { convert, roundMoney, type FxRates, type Money } from './money.ts';

export const METRICS = [
  'clicks',
  'installs',
  'attributedInstalls',
  'organicInstalls',
  'pendingInstalls',
  'clickToInstallRate',
  'events',
  'trials',
  'qualifiedTrials',
  'purchases',
  'revenue',
  'payingUsers',
  'arpu',
] as const;
export type Metric = (typeof METRICS)[number];

export const DEFINITIONS: Record<Metric, string> = {
  clicks:
    'Tracking-link clicks that are not bots or link previews and not a rapid repeat (same link, IP and User-Agent) of an earlier click; dated by click time.',
  installs:
    'First configure of a device in an environment (one install attribution per device); dated by install time. A reinstall of the same device is not a new install.',
  attributedInstalls:
    'Installs whose attribution has a paid source: any network and match type other than organic (click id, referrer, Apple Search Ads, probabilistic). An install still waiting for Apple AdServices is not attributed (see pendingInstalls) until it is resolved.',
  organicInstalls: 'installs − attributedInstalls − pendingInstalls.',
  pendingInstalls:
    "Installs whose attribution is undetermined: an iOS install waiting for Apple AdServices' answer (network and match type `pending`). Counted as installs, neither attributed nor organic; once Apple answers, the install moves to its network.",
  clickToInstallRate:
    'attributedInstalls / clicks over the same filters (network, campaign, …); null when there are no clicks.',
  events:
    'Events received (every name, including the system install event), excluding control events such as _set_user_id and _advanced_matching.',
  trials: 'Events named start_trial.',
  qualifiedTrials:
    'qualified_trial events emitted by the platform (source system); a client-sent qualified_trial is a custom event and does not count.',
  purchases: 'purchase and subscribe events with a positive revenue amount.',
  revenue:
    "Sum of purchase and subscribe amounts (a negative amount subtracts) minus the absolute amount of every refund event, in the app's currency. Amounts in other currencies are included only when FX_RATES can convert them; revenueByCurrency always lists every currency unconverted, and unconvertedCurrencies names those left out of revenue.",
  payingUsers: 'Distinct devices with at least one purchase (as defined above) in the period.',
  arpu: 'revenue / installs of the period; null when there are no installs.',
};

export const ATTRIBUTION_RULE =
  "Events, trials, purchases and revenue are credited to the network, campaign, ad group, ad, link, platform, country and match type of their device's install attribution (the current one: when an attribution changes, e.g. Apple Search Ads resolved later, its install and all its events move with it). Events of a device without an install attribution have null dimensions.";
export const DAY_RULE =
  "Days are calendar days in the app's time zone (a DST day has 23 or 25 hours). Events are dated by their event time (received_at), clicks by click time, installs by install time; a late event lands on the day of its own time.";
export const ENVIRONMENT_RULE = 'Only live data unless environment=sandbox; the two never mix.';

/** Sums over rollup rows of one group; revenue per currency, with '' already mapped to the app currency. */
export type Sums = {
  clicks: number;
  installs: number;
  attributedInstalls: number;
  /** Installs still waiting for Apple (network `pending`, not attributed). */
  pendingInstalls: number;
  events: number;
  trials: number;
  qualifiedTrials: number;
  purchases: number;
  /** Paying device-days: equals payingUsers for a single day (a device is in one group per day). */
  payerDays: number;
  revenueByCurrency: Map<string, number>;
};

export type Kpis = {
  clicks: number;
  installs: number;
  attributedInstalls: number;
  organicInstalls: number;
  pendingInstalls: number;
  clickToInstallRate: number | null;
  events: number;
  trials: number;
  qualifiedTrials: number;
  purchases: number;
  revenue: Money;
  revenueByCurrency: Money[];
  unconvertedCurrencies: string[];
  payingUsers: number;
  arpu: Money | null;
};

export const emptySums = (): Sums => ({
  clicks: 0,
  installs: 0,
  attributedInstalls: 0,
  pendingInstalls: 0,
  events: 0,
  trials: 0,
  qualifiedTrials: 0,
  purchases: 0,
  payerDays: 0,
  revenueByCurrency: new Map(),
});

/**
 * Whether a group has anything to show. Moves (an attribution resolved later, a webhook event
 * matched to its device) leave the old group's rollup rows summing to zero: no data, no stats row.
 */
export function hasData(s: Sums): boolean {
  return (
    s.clicks !== 0 ||
    s.installs !== 0 ||
    s.events !== 0 ||
    s.payerDays !== 0 ||
    [...s.revenueByCurrency.values()].some((v) => v !== 0)
  );
}

export function addSums(into: Sums, s: Sums): Sums {
  into.clicks += s.clicks;
  into.installs += s.installs;
  into.attributedInstalls += s.attributedInstalls;
  into.pendingInstalls += s.pendingInstalls;
  into.events += s.events;
  into.trials += s.trials;
  into.qualifiedTrials += s.qualifiedTrials;
  into.purchases += s.purchases;
  into.payerDays += s.payerDays;
  for (const [c, a] of s.revenueByCurrency)
    into.revenueByCurrency.set(c, (into.revenueByCurrency.get(c) ?? 0) + a);
  return into;
}

const ratio = (a: number, b: number) => (b === 0 ? null : Math.round((a / b) * 10_000) / 10_000);

/** KPIs of summed rows, revenue reported in `currency` (converted only where `fx` allows). */
export function computeKpis(s: Sums, payingUsers: number, currency: string, fx: FxRates): Kpis {
  let revenue = 0;
  const unconverted: string[] = [];
  const byCurrency: Money[] = [];
  for (const [c, amount] of [...s.revenueByCurrency].sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0,
  )) {
    byCurrency.push({ amount: roundMoney(amount, c), currency: c });
    const converted = convert(amount, c, currency, fx);
    if (converted === null) unconverted.push(c);
    else revenue += converted;
  }
  return {
    clicks: s.clicks,
    installs: s.installs,
    attributedInstalls: s.attributedInstalls,
    organicInstalls: s.installs - s.attributedInstalls - s.pendingInstalls,
    pendingInstalls: s.pendingInstalls,
    clickToInstallRate: ratio(s.attributedInstalls, s.clicks),
    events: s.events,
    trials: s.trials,
    qualifiedTrials: s.qualifiedTrials,
    purchases: s.purchases,
    revenue: { amount: roundMoney(revenue, currency), currency },
    revenueByCurrency: byCurrency,
    unconvertedCurrencies: unconverted,
    payingUsers,
    arpu:
      s.installs === 0 ? null : { amount: roundMoney(revenue / s.installs, currency), currency },
  };
}

/** Only the requested metrics (`revenue` brings its per-currency companions). */
export function pickMetrics(k: Kpis, metrics: readonly Metric[]): Partial<Kpis> {
  const out: Partial<Kpis> = {};
  for (const m of metrics) {
    (out as Record<string, unknown>)[m] = k[m];
    if (m === 'revenue') {
      out.revenueByCurrency = k.revenueByCurrency;
      out.unconvertedCurrencies = k.unconvertedCurrencies;
    }
  }
  return out;
}
