// Money (operator): AI revenue, mining revenue, energy cost and net per hour (last 48 h) or per
// day (last 30 days), as a chart, the totals, and a table per site.
// Data: GET /v1/reports/money?bucket=hour|day.

import { api } from '../api.js';
import { esc, card, table, row, fmtUsd, fmtTime, setHtml, usd } from '../util.js';
import { TimeChart, COLORS } from '../charts.js';
import { ratesPerDay } from '../rates.js';

const FIELDS = [
  { key: 'ai_usage', label: 'AI revenue', color: COLORS.ai, testid: 'money-ai-total' },
  { key: 'mining_revenue', label: 'Mining revenue', color: COLORS.mining, testid: 'money-mining-total' },
  { key: 'energy_cost', label: 'Energy cost', color: COLORS.energy, testid: 'money-energy-total' },
  { key: 'net', label: 'Net', color: COLORS.net, testid: 'money-net-total' },
];

function totalsCards(report) {
  const cards = FIELDS.map((f) => {
    const v = usd(report.totals, f.key);
    return card({ label: f.label, value: fmtUsd(v), sub: report.bucket === 'day' ? 'last 30 days' : 'last 48 hours',
      raw: v, testid: f.testid, tone: 'tone-' + f.key });
  });
  if (report.bucket === 'hour') {
    const r = ratesPerDay(report);
    if (r) {
      cards.push(card({ label: 'Net per day now', value: (r.estimated ? '≈' : '') + fmtUsd(r.net_usd, 2),
        raw: r.net_usd, testid: 'money-net-per-day', sub: r.basis }));
    }
  }
  return cards.join('');
}

function siteTable(report) {
  if (report.site_totals) {
    const rows = Object.entries(report.site_totals).map(([site, t]) =>
      row([esc(site), ...FIELDS.map((f) => fmtUsd(usd(t, f.key)))], ` data-testid="money-site-${esc(site)}"`));
    return table([{ label: 'Site' }, ...FIELDS.map((f) => ({ label: f.label, num: true }))], rows, { testid: 'money-sites' });
  }
  const sums = {};
  for (const site of report.sites || []) sums[site] = { ai_usage: 0, mining_revenue: 0, energy_cost: 0, net: 0 };
  for (const p of report.points || []) {
    for (const [site, v] of Object.entries(p.by_site || {})) {
      sums[site] = sums[site] || { ai_usage: 0, mining_revenue: 0, energy_cost: 0, net: 0 };
      for (const f of FIELDS) sums[site][f.key] += usd(v, f.key) || 0;
    }
  }
  const rows = Object.entries(sums).map(([site, s]) =>
    row([esc(site), ...FIELDS.map((f) => fmtUsd(s[f.key]))], ` data-testid="money-site-${esc(site)}"`));
  return table([{ label: 'Site' }, ...FIELDS.map((f) => ({ label: f.label, num: true }))], rows,
    { testid: 'money-sites', empty: 'no site has money yet' });
}

function recentTable(report) {
  const points = (report.points || []).slice(-12).reverse();
  const rows = points.map((p) => row([esc(fmtTime(p.at)), ...FIELDS.map((f) => fmtUsd(usd(p, f.key)))]));
  return table([{ label: report.bucket === 'day' ? 'Day' : 'Hour from' }, ...FIELDS.map((f) => ({ label: f.label, num: true }))],
    rows, { testid: 'money-recent', empty: 'no buckets yet' });
}

export default {
  title: 'Money',
  create({ query, go }) {
    let bucket = query.get('bucket') === 'day' ? 'day' : 'hour';
    const el = document.createElement('section');
    el.className = 'view view-money';
    el.innerHTML = `
      <div class="view-head"><h1>Money</h1>
        <div class="toggle" role="group" aria-label="Bucket">
          <button type="button" data-bucket="hour" data-testid="money-hour">Per hour, 48 h</button>
          <button type="button" data-bucket="day" data-testid="money-day">Per day, 30 days</button>
        </div></div>
      <div class="cards" data-part="cards"></div>
      <div class="chart chart-wide" data-part="chart" data-testid="money-chart"></div>
      <p class="muted" data-part="range"></p>
      <div class="two-col">
        <div><h2>By site</h2><div data-part="sites"></div></div>
        <div><h2>Latest buckets</h2><div data-part="recent"></div></div>
      </div>`;
    const part = (p) => el.querySelector(`[data-part="${p}"]`);
    const chart = new TimeChart(part('chart'), {
      title: 'Revenue and cost per bucket (USD)',
      height: 320,
      axes: [{ scale: 'usd', label: 'USD', fmt: (v) => fmtUsd(v, Math.abs(v) < 10 ? 2 : 0) }],
      series: FIELDS.map((f) => ({ label: f.label, scale: 'usd', stroke: f.color, fmt: (v) => fmtUsd(v),
        steps: true, dash: f.key === 'net' ? [6, 4] : undefined })),
    });

    function markToggle() {
      for (const b of el.querySelectorAll('[data-bucket]')) b.setAttribute('aria-pressed', String(b.dataset.bucket === bucket));
    }
    el.querySelector('.toggle').addEventListener('click', (event) => {
      const b = event.target.closest('[data-bucket]');
      if (b && b.dataset.bucket !== bucket) go('#/money?bucket=' + b.dataset.bucket);
    });
    markToggle();

    async function refresh() {
      const report = await api('/v1/reports/money?bucket=' + bucket);
      setHtml(part('cards'), totalsCards(report));
      const points = report.points || [];
      // Each value holds for its bucket: one more x at the last bucket's end draws the last step.
      const xs = points.map((p) => p.t_s ?? Date.parse(p.at) / 1000);
      const ys = FIELDS.map((f) => points.map((p) => usd(p, f.key)));
      if (xs.length) {
        xs.push(xs[xs.length - 1] + (report.bucket_s || 3600));
        for (const y of ys) y.push(y[y.length - 1]);
      }
      chart.setData(xs, ys);
      part('range').textContent = `${points.length} buckets of ${report.bucket}, ${fmtTime(report.from)} to ${fmtTime(report.to)}`;
      setHtml(part('sites'), siteTable(report));
      setHtml(part('recent'), recentTable(report));
    }
    return { el, refresh, destroy: () => chart.destroy() };
  },
};
