import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

const DAY = 86_400;
const label = (ts: number) => new Date(ts * 1000).toISOString().slice(5, 10);

export type Series = { label: string; values: (number | null)[]; color: string; scale?: string };

/** A time-series line chart (uPlot); `dates` are YYYY-MM-DD days. Redrawn when the data changes. */
export function TimeChart({
  dates,
  series,
  title,
}: {
  dates: string[];
  series: Series[];
  title: string;
}) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!el.current) return;
    const xs = dates.map((d) => Date.parse(`${d}T00:00:00Z`) / 1000);
    const width = Math.max(300, el.current.clientWidth);
    const plot = new uPlot(
      {
        width,
        height: 260,
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'UTC'),
        series: [
          {},
          ...series.map((s) => ({
            label: s.label,
            stroke: s.color,
            width: 2,
            scale: s.scale ?? 'n',
          })),
        ],
        axes: [
          // Days, never hours: the data is one point per day of the app's calendar.
          { space: 60, incrs: [DAY, 7 * DAY, 30 * DAY], values: (_u, splits) => splits.map(label) },
          { scale: 'n', incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 1e4, 1e5, 1e6] },
          ...(series.some((s) => s.scale === 'money')
            ? [{ scale: 'money', side: 1, grid: { show: false } }]
            : []),
        ],
        scales: { x: { time: true }, n: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
      },
      [xs, ...series.map((s) => s.values)] as uPlot.AlignedData,
      el.current,
    );
    const resize = () =>
      el.current && plot.setSize({ width: Math.max(300, el.current.clientWidth), height: 260 });
    window.addEventListener('resize', resize);
    return () => {
      window.removeEventListener('resize', resize);
      plot.destroy();
    };
  }, [dates, series]);
  return <figure class="chart" ref={el} aria-label={title} role="img" />;
}
