/** Money in major units and conversion between currencies with configured USD rates. */
export type Money = { amount: number; currency: string };

/** USD value of one unit of each currency (config FX_RATES); USD is 1 implicitly. */
export type FxRates = Record<string, number>;

const usdValue = (currency: string, fx: FxRates) => (currency === 'USD' ? 1 : fx[currency]);

/** `amount` of `from` in `to`, or null when a rate is missing (never guessed). */
export function convert(amount: number, from: string, to: string, fx: FxRates): number | null {
  if (from === to) return amount;
  const a = usdValue(from, fx);
  const b = usdValue(to, fx);
  if (a === undefined || b === undefined) return null;
  return (amount * a) / b;
}

const digitsCache = new Map<string, number>();

/** The currency's minor-unit digits (JPY 0, USD 2, BHD 3); 2 for codes Intl does not know. */
export function minorDigits(currency: string): number {
  let d = digitsCache.get(currency);
  if (d === undefined) {
    try {
      d =
        new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions()
          .maximumFractionDigits ?? 2;
    } catch {
      d = 2;
    }
    digitsCache.set(currency, d);
  }
  return d;
}

/**
 * Rounded to the currency's minor unit (sums of decimal amounts in floating point carry noise).
 * Always finite: an amount beyond the floating-point range (never reached with stored amounts
 * bounded per event, see docs/analytics.md) is reported as the largest finite one, NaN as 0, and an
 * amount too large to have a fraction is returned as is (scaling it could overflow).
 */
export function roundMoney(amount: number, currency: string): number {
  if (Number.isNaN(amount)) return 0;
  if (!Number.isFinite(amount)) return amount > 0 ? Number.MAX_VALUE : -Number.MAX_VALUE;
  const f = 10 ** minorDigits(currency);
  if (Math.abs(amount) * f >= Number.MAX_SAFE_INTEGER) return amount;
  const r = Math.round(amount * f) / f;
  return Object.is(r, -0) ? 0 : r;
}
