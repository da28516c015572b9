import { useState } from 'preact/hooks';
import { get, type Kpis, query } from '../api.ts';
import { count, lastDays, money, percent } from '../format.ts';
import { ErrorBox, Loading, Select, useLoad } from '../ui.tsx';

type Portfolio = {
  data: {
    period: { from: string; to: string };
    totals: Kpis;
    apps: {
      appId: string;
      name: string;
      kpis: Kpis;
      share: { installs: number | null; revenue: number | null };
    }[];
  };
};

/** Every app side by side, with totals and each app's share of installs and revenue. */
export function PortfolioPage() {
  const [days, setDays] = useState('30');
  const p = useLoad(
    () => get<Portfolio>(`/portfolio${query(lastDays(Number(days)))}`).then((r) => r.data),
    [days],
  );
  return (
    <section>
      <h1>Portfolio</h1>
      <form class="filters" aria-label="Portfolio options" onSubmit={(e) => e.preventDefault()}>
        <Select
          label="Period"
          name="portfolioPeriod"
          value={days}
          options={[
            ['7', 'Last 7 days'],
            ['30', 'Last 30 days'],
            ['90', 'Last 90 days'],
          ]}
          onChange={setDays}
        />
      </form>
      <ErrorBox error={p.error} />
      {p.loading && <Loading what="Loading the portfolio" />}
      {p.data && (
        <div class="table-wrap">
          <table>
            <caption>
              {p.data.period.from} to {p.data.period.to}
            </caption>
            <thead>
              <tr>
                <th scope="col">App</th>
                <th scope="col" class="num">
                  Clicks
                </th>
                <th scope="col" class="num">
                  Installs
                </th>
                <th scope="col" class="num">
                  Share of installs
                </th>
                <th scope="col" class="num">
                  Click → install
                </th>
                <th scope="col" class="num">
                  Revenue
                </th>
                <th scope="col" class="num">
                  Share of revenue
                </th>
              </tr>
            </thead>
            <tbody>
              {p.data.apps.map((a) => (
                <tr key={a.appId}>
                  <th scope="row">
                    <a href={`/apps/${a.appId}`}>{a.name}</a>
                  </th>
                  <td class="num">{count(a.kpis.clicks)}</td>
                  <td class="num">{count(a.kpis.installs)}</td>
                  <td class="num">{percent(a.share.installs)}</td>
                  <td class="num">{percent(a.kpis.clickToInstallRate)}</td>
                  <td class="num">{money(a.kpis.revenue)}</td>
                  <td class="num">{percent(a.share.revenue)}</td>
                </tr>
              ))}
            </tbody>
            <tfoot>
              <tr>
                <th scope="row">All apps</th>
                <td class="num">{count(p.data.totals.clicks)}</td>
                <td class="num">{count(p.data.totals.installs)}</td>
                <td class="num">100 %</td>
                <td class="num">{percent(p.data.totals.clickToInstallRate)}</td>
                <td class="num">{money(p.data.totals.revenue)}</td>
                <td class="num">100 %</td>
              </tr>
            </tfoot>
          </table>
        </div>
      )}
    </section>
  );
}
