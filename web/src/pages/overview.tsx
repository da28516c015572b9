import { useMemo, useState } from 'preact/hooks';
import { get, type App, type Kpis, type Link, type List, query } from '../api.ts';
import { TimeChart } from '../chart.tsx';
import { change, count, daysBetween, lastDays, money, percent } from '../format.ts';
import { ErrorBox, Field, Loading, Select, useLoad } from '../ui.tsx';

type Overview = {
  data: {
    period: { from: string; to: string; timezone: string | null };
    kpis: Kpis;
    previousPeriod: Kpis;
    timeseries: ({ date: string } & Kpis)[];
  };
};

const PRESETS: [string, string][] = [
  ['7', 'Last 7 days'],
  ['30', 'Last 30 days'],
  ['90', 'Last 90 days'],
  ['custom', 'Custom dates'],
];

/** The values a filter can take in the period: from the stats grouped by that dimension. */
async function valuesOf(app: App, dimension: string, period: { from: string; to: string }) {
  const r = await get<List<{ dimensions: Record<string, string | null> }>>(
    `/apps/${app.id}/stats${query({ ...period, groupBy: dimension, limit: 200 })}`,
  );
  return [...new Set(r.data.map((row) => row.dimensions[dimension]).filter((v) => v !== null))]
    .map(String)
    .sort();
}

/** KPIs with the change against the previous period, and the days in a chart; numbers as the API gives them. */
export function OverviewTab({ app }: { app: App }) {
  const [preset, setPreset] = useState('7');
  const [range, setRange] = useState(lastDays(7));
  const [environment, setEnvironment] = useState('live');
  const [network, setNetwork] = useState('');
  const [platform, setPlatform] = useState('');
  const [campaign, setCampaign] = useState('');
  const [country, setCountry] = useState('');
  const [linkId, setLinkId] = useState('');
  const choosePreset = (v: string) => {
    setPreset(v);
    if (v !== 'custom') setRange(lastDays(Number(v)));
  };
  const setDay = (k: 'from' | 'to') => (v: string) => {
    setPreset('custom');
    setRange({ ...range, [k]: v });
  };
  const params = { ...range, environment, network, platform, campaign, country, linkId };
  const overview = useLoad(
    () => get<Overview>(`/apps/${app.id}/overview${query(params)}`).then((r) => r.data),
    [app.id, range.from, range.to, environment, network, platform, campaign, country, linkId],
  );
  // What the campaign, country and link filters offer; a failure leaves only "All".
  const choices = useLoad(async () => {
    const [campaigns, countries, links] = await Promise.all([
      valuesOf(app, 'campaign', range).catch(() => []),
      valuesOf(app, 'country', range).catch(() => []),
      get<List<Link>>(`/apps/${app.id}/links?limit=200`)
        .then((r) => r.data)
        .catch(() => []),
    ]);
    return { campaigns, countries, links };
  }, [app.id, range.from, range.to]);
  const keep = (chosen: string, values: [string, string][]) =>
    chosen && !values.some(([v]) => v === chosen)
      ? [...values, [chosen, chosen] as [string, string]]
      : values;
  const o = overview.data;
  const series = useMemo(
    () =>
      o
        ? [
            { label: 'Installs', values: o.timeseries.map((d) => d.installs), color: '#2563eb' },
            {
              label: 'Attributed',
              values: o.timeseries.map((d) => d.attributedInstalls),
              color: '#16a34a',
            },
            {
              label: 'Organic',
              values: o.timeseries.map((d) => d.organicInstalls),
              color: '#9ca3af',
            },
            { label: 'Trials', values: o.timeseries.map((d) => d.trials), color: '#d97706' },
            {
              label: `Revenue (${o.kpis.revenue.currency})`,
              values: o.timeseries.map((d) => d.revenue.amount),
              color: '#7c3aed',
              scale: 'money',
            },
          ]
        : [],
    [o],
  );
  return (
    <div>
      <form class="filters" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
        <Select
          label="Period"
          name="period"
          value={preset}
          options={PRESETS}
          onChange={choosePreset}
        />
        <Field
          label="From"
          name="from"
          type="date"
          value={range.from}
          max={range.to}
          onInput={setDay('from')}
        />
        <Field
          label="To"
          name="to"
          type="date"
          value={range.to}
          min={range.from}
          onInput={setDay('to')}
        />
        <Select
          label="Data"
          name="environment"
          value={environment}
          options={[
            ['live', 'Live'],
            ['sandbox', 'Sandbox (test devices)'],
          ]}
          onChange={setEnvironment}
        />
        <Select
          label="Network"
          name="network"
          value={network}
          options={[
            ['', 'All networks'],
            ['meta', 'Meta'],
            ['google', 'Google Ads'],
            ['tiktok', 'TikTok'],
            ['apple_search_ads', 'Apple Search Ads'],
            ['other', 'Other'],
            ['organic', 'Organic'],
          ]}
          onChange={setNetwork}
        />
        <Select
          label="Platform"
          name="platform"
          value={platform}
          options={[
            ['', 'All platforms'],
            ['ios', 'iOS'],
            ['android', 'Android'],
            ['web', 'Web'],
          ]}
          onChange={setPlatform}
        />
        <Select
          label="Campaign"
          name="campaign"
          value={campaign}
          options={keep(campaign, [
            ['', 'All campaigns'],
            ...(choices.data?.campaigns ?? []).map((c): [string, string] => [c, c]),
          ])}
          onChange={setCampaign}
        />
        <Select
          label="Country"
          name="country"
          value={country}
          options={keep(country, [
            ['', 'All countries'],
            ...(choices.data?.countries ?? []).map((c): [string, string] => [c, c]),
          ])}
          onChange={setCountry}
        />
        <Select
          label="Link"
          name="linkId"
          value={linkId}
          options={keep(linkId, [
            ['', 'All links'],
            ...(choices.data?.links ?? []).map((l): [string, string] => [l.id, l.name || l.id]),
          ])}
          onChange={setLinkId}
        />
      </form>
      {overview.loading && <Loading what="Loading the overview" />}
      <ErrorBox error={overview.error} />
      {o && (
        <>
          <p class="muted">
            {o.period.from} to {o.period.to} ({o.period.timezone ?? app.timezone}), compared with
            the {daysBetween(o.period.from, o.period.to)} days before
          </p>
          <div class="kpis">
            <Kpi label="Installs" now={o.kpis.installs} before={o.previousPeriod.installs} />
            <Kpi
              label="Attributed installs"
              now={o.kpis.attributedInstalls}
              before={o.previousPeriod.attributedInstalls}
            />
            <Kpi
              label="Organic installs"
              now={o.kpis.organicInstalls}
              before={o.previousPeriod.organicInstalls}
            />
            <Kpi label="Clicks" now={o.kpis.clicks} before={o.previousPeriod.clicks} />
            <Kpi label="Click → install" text={percent(o.kpis.clickToInstallRate)} />
            <Kpi label="Trials" now={o.kpis.trials} before={o.previousPeriod.trials} />
            {(app.qualifiedTrials.enabled || o.kpis.qualifiedTrials > 0) && (
              <Kpi
                label="Qualified trials"
                now={o.kpis.qualifiedTrials}
                before={o.previousPeriod.qualifiedTrials}
              />
            )}
            <Kpi label="Purchases" now={o.kpis.purchases} before={o.previousPeriod.purchases} />
            <Kpi
              label="Revenue"
              text={money(o.kpis.revenue)}
              now={o.kpis.revenue.amount}
              before={o.previousPeriod.revenue.amount}
            />
            <Kpi
              label="Paying users"
              now={o.kpis.payingUsers}
              before={o.previousPeriod.payingUsers}
            />
            <Kpi label="ARPU" text={money(o.kpis.arpu)} />
          </div>
          <TimeChart
            title="Installs, trials and revenue per day"
            dates={o.timeseries.map((d) => d.date)}
            series={series}
          />
        </>
      )}
    </div>
  );
}

function Kpi({
  label,
  now,
  before,
  text,
}: {
  label: string;
  now?: number;
  before?: number;
  text?: string;
}) {
  const delta = now !== undefined && before !== undefined ? change(now, before) : null;
  return (
    <div class="kpi">
      <span class="label">{label}</span>
      <span class="value" data-kpi={label}>
        {text ?? count(now)}
      </span>
      {delta && (
        <span class={`delta ${delta.startsWith('−') ? 'down' : 'up'}`}>{delta} vs previous</span>
      )}
    </div>
  );
}
