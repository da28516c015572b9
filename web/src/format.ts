import type { Money } from './api.ts';

const num = new Intl.NumberFormat('en-US');
export const count = (n: number | null | undefined) =>
  n === null || n === undefined ? '–' : num.format(n);
export const percent = (r: number | null | undefined) =>
  r === null || r === undefined ? '–' : `${(r * 100).toFixed(1)} %`;
export function money(m: Money | null | undefined): string {
  if (!m) return '–';
  return new Intl.NumberFormat('en-US', {
    style: 'currency',
    currency: m.currency,
    maximumFractionDigits: 2,
  }).format(m.amount);
}
/** Change against the previous period, e.g. "+12.5 %"; null when there is nothing to compare. */
export function change(now: number, before: number): string | null {
  if (!before) return now ? 'new' : null;
  const r = (now - before) / before;
  return `${r >= 0 ? '+' : '−'}${Math.abs(r * 100).toFixed(1)} %`;
}
export const dateTime = (iso: string) =>
  new Date(iso).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'medium' });

/** YYYY-MM-DD of a date in the browser's calendar. */
export const day = (d: Date) =>
  `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
export function lastDays(n: number): { from: string; to: string } {
  const to = new Date();
  const from = new Date(to.getTime() - (n - 1) * 86_400_000);
  return { from: day(from), to: day(to) };
}

/** Days from `from` to `to`, both included (YYYY-MM-DD). */
export const daysBetween = (from: string, to: string) =>
  Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000) + 1;
