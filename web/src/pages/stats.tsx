import { useState } from 'preact/hooks';
import { type App, get, type Kpis, type List, query } from '../api.ts';
import { count, lastDays, money, percent } from '../format.ts';
import { ErrorBox, Loading, Select, useLoad, useCursorPages } from '../ui.tsx';

type Row = { dimensions: Record<string, string | null>; metrics: Partial<Kpis> };

const DIMENSIONS: [string, string][] = [
  ['date', 'Date'],
  ['network', 'Network'],
  ['campaign', 'Campaign'],
  ['adGroup', 'Ad group'],
  ['ad', 'Ad'],
  ['linkId', 'Link'],
  ['platform', 'Platform'],
  ['country', 'Country'],
  ['matchType', 'Match type'],
  ['eventName', 'Event'],
];
/** The columns shown, with how each cell is written (the CSV gets the same text). */
const COLUMNS: [keyof Kpis, string, (m: Partial<Kpis>) => string][] = [
  ['clicks', 'Clicks', (m) => count(m.clicks)],
  ['installs', 'Installs', (m) => count(m.installs)],
  ['attributedInstalls', 'Attributed', (m) => count(m.attributedInstalls)],
  ['organicInstalls', 'Organic', (m) => count(m.organicInstalls)],
  ['clickToInstallRate', 'Click → install', (m) => percent(m.clickToInstallRate)],
  ['trials', 'Trials', (m) => count(m.trials)],
  ['purchases', 'Purchases', (m) => count(m.purchases)],
  ['revenue', 'Revenue', (m) => money(m.revenue)],
  ['payingUsers', 'Paying users', (m) => count(m.payingUsers)],
];
const PAGE = 50;

/** Stats grouped by one or more dimensions, sortable, paginated; CSV of exactly the rows shown. */
export function StatsTab({ app }: { app: App }) {
  const [days, setDays] = useState('30');
  const [environment, setEnvironment] = useState('live');
  const [groupBy, setGroupBy] = useState<string[]>(['network', 'campaign']);
  const [sort, setSort] = useState<{ key: string; desc: boolean } | null>(null);
  const { cursor, reset, pager } = useCursorPages();
  const rows = useLoad(
    () =>
      get<List<Row>>(
        `/apps/${app.id}/stats${query({ ...lastDays(Number(days)), environment, groupBy: groupBy.join(','), limit: PAGE, cursor })}`,
      ),
    [app.id, days, environment, groupBy.join(','), cursor],
  );
  const toggle = (d: string) => {
    setGroupBy(groupBy.includes(d) ? groupBy.filter((x) => x !== d) : [...groupBy, d]);
    reset();
  };
  const shown = [...(rows.data?.data ?? [])];
  if (sort) {
    const value = (r: Row) => {
      const v = (r.metrics as Record<string, unknown>)[sort.key] ?? r.dimensions[sort.key];
      return typeof v === 'object' && v !== null
        ? (v as { amount: number }).amount
        : (v as number | string | null);
    };
    shown.sort((a, b) => {
      const x = value(a) ?? '';
      const y = value(b) ?? '';
      return (x < y ? -1 : x > y ? 1 : 0) * (sort.desc ? -1 : 1);
    });
  }
  const dims = DIMENSIONS.filter(([d]) => groupBy.includes(d));
  const header = [...dims.map(([, l]) => l), ...COLUMNS.map(([, l]) => l)];
  const cells = (r: Row) => [
    ...dims.map(([d]) => r.dimensions[d] ?? '(none)'),
    ...COLUMNS.map(([, , f]) => f(r.metrics)),
  ];
  const csv = () => {
    const esc = (s: string) => (/[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);
    const text = [header, ...shown.map(cells)].map((r) => r.map(esc).join(',')).join('\n');
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([`${text}\n`], { type: 'text/csv' }));
    a.download = `${app.name}-stats.csv`;
    a.click();
  };
  const sortBy = (key: string) =>
    setSort(sort?.key === key ? { key, desc: !sort.desc } : { key, desc: true });
  const ariaSort = (key: string) =>
    sort?.key === key ? (sort.desc ? 'descending' : 'ascending') : undefined;

  return (
    <div>
      <form class="filters" aria-label="Stats options" onSubmit={(e) => e.preventDefault()}>
        <Select
          label="Period"
          name="statsPeriod"
          value={days}
          options={[
            ['7', 'Last 7 days'],
            ['30', 'Last 30 days'],
            ['90', 'Last 90 days'],
          ]}
          onChange={(v) => (setDays(v), reset())}
        />
        <Select
          label="Data"
          name="statsEnvironment"
          value={environment}
          options={[
            ['live', 'Live'],
            ['sandbox', 'Sandbox'],
          ]}
          onChange={(v) => (setEnvironment(v), reset())}
        />
        <fieldset class="dims">
          <legend>Group by</legend>
          {DIMENSIONS.map(([d, l]) => (
            <label key={d}>
              <input type="checkbox" checked={groupBy.includes(d)} onChange={() => toggle(d)} /> {l}
            </label>
          ))}
        </fieldset>
      </form>
      <ErrorBox error={rows.error} />
      {rows.loading && <Loading what="Loading stats" />}
      {rows.data && (
        <>
          <div class="actions">
            <button type="button" class="secondary" onClick={csv} disabled={shown.length === 0}>
              Export CSV ({shown.length} rows)
            </button>
          </div>
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  {dims.map(([d, l]) => (
                    <th key={d} scope="col" aria-sort={ariaSort(d)}>
                      <button type="button" class="sort" onClick={() => sortBy(d)}>
                        {l}
                      </button>
                    </th>
                  ))}
                  {COLUMNS.map(([k, l]) => (
                    <th key={k} scope="col" class="num" aria-sort={ariaSort(k)}>
                      <button type="button" class="sort" onClick={() => sortBy(k)}>
                        {l}
                      </button>
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {shown.map((r, i) => (
                  <tr key={i}>
                    {cells(r).map((c, j) =>
                      j < dims.length ? (
                        <th scope="row" key={j}>
                          {c}
                        </th>
                      ) : (
                        <td class="num" key={j}>
                          {c}
                        </td>
                      ),
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {pager(rows.data.meta)}
        </>
      )}
    </div>
  );
}
