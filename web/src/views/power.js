// Power (operator): per site, draw and cap (kW) and the electricity price ($/MWh) over the last
// 24 h, the headroom left now, and the curtailments (GPUs switched off to stay under the cap).
// Data: GET /v1/reports/power?hours=24.

import { api } from '../api.js';
import { esc, card, table, row, fmtNum, fmtKw, fmtPct, fmtTime, fmtDuration, setHtml } from '../util.js';
import { TimeChart, COLORS } from '../charts.js';

function headroomCard(site) {
  const last = site.samples[site.samples.length - 1];
  if (!last) return card({ label: site.name, value: '–', sub: 'no samples yet' });
  const cap = last.cap_w ?? site.power_cap_w;
  const pct = cap ? (100 * last.draw_w) / cap : null;
  return card({
    label: `${site.name}: draw of cap`,
    value: `${fmtKw(last.draw_w)} of ${fmtKw(cap, 0)}`,
    raw: last.draw_w,
    testid: 'power-headroom-' + site.name,
    sub: `${fmtPct(pct)} · headroom ${fmtKw(cap - last.draw_w)} · ${fmtNum(last.price_usd_per_mwh, 2)} $/MWh` +
      ` · at ${fmtTime(last.at)} (sampled at each accounting)` +
      (last.curtailed_gpus ? ` · ${last.curtailed_gpus} GPUs curtailed` : ''),
    tone: pct !== null && pct > 95 ? 'tone-warn' : '',
  });
}

function curtailmentTable(curtailments) {
  const rows = curtailments.slice().reverse().map((c) => row([
    esc(c.site), esc(fmtTime(c.from)), c.to ? esc(fmtTime(c.to)) : '<strong>ongoing</strong>',
    c.to ? fmtDuration((Date.parse(c.to) - Date.parse(c.from)) / 1000) : '–',
    fmtNum(c.max_curtailed_gpus),
  ]));
  return table([{ label: 'Site' }, { label: 'From' }, { label: 'To' }, { label: 'Lasted' }, { label: 'Most GPUs off', num: true }],
    rows, { testid: 'power-curtailments', empty: 'no curtailment in the last 24 h' });
}

function siteChart(container, name) {
  return new TimeChart(container, {
    title: `${name}: draw, cap and electricity price`,
    height: 260,
    axes: [
      { scale: 'kw', label: 'kW', fmt: (v) => fmtNum(v), range: (u, min, max) => [0, Math.max(max, 1) * 1.08] },
      { scale: 'price', label: '$/MWh', fmt: (v) => fmtNum(v) },
    ],
    series: [
      { label: 'Draw', scale: 'kw', stroke: COLORS.draw, fmt: (v) => fmtNum(v, 1) + ' kW', fill: 'rgba(37,99,235,0.08)' },
      { label: 'Cap', scale: 'kw', stroke: COLORS.cap, fmt: (v) => fmtNum(v, 0) + ' kW', dash: [6, 4], steps: true },
      { label: 'Price', scale: 'price', stroke: COLORS.price, fmt: (v) => fmtNum(v, 2) + ' $/MWh', width: 1.5, steps: true },
    ],
  });
}

export default {
  title: 'Power',
  create() {
    const el = document.createElement('section');
    el.className = 'view view-power';
    el.innerHTML = `
      <h1>Power</h1>
      <div class="cards" data-part="cards"></div>
      <div data-part="charts" data-testid="power-charts"></div>
      <h2>Curtailments</h2><div data-part="curtailments"></div>`;
    const part = (p) => el.querySelector(`[data-part="${p}"]`);
    const charts = new Map();

    function chartFor(name) {
      if (!charts.has(name)) {
        const box = document.createElement('div');
        box.className = 'chart chart-wide';
        box.dataset.testid = 'power-chart-' + name;
        part('charts').appendChild(box);
        charts.set(name, siteChart(box, name));
      }
      return charts.get(name);
    }

    async function refresh() {
      const report = await api('/v1/reports/power?hours=24');
      setHtml(part('cards'), report.sites.map(headroomCard).join(''));
      for (const site of report.sites) {
        const s = site.samples;
        chartFor(site.name).setData(s.map((x) => x.t_s ?? Date.parse(x.at) / 1000), [
          s.map((x) => (x.draw_w === null ? null : x.draw_w / 1000)),
          s.map((x) => ((x.cap_w ?? site.power_cap_w) === null ? null : (x.cap_w ?? site.power_cap_w) / 1000)),
          s.map((x) => x.price_usd_per_mwh),
        ]);
      }
      setHtml(part('curtailments'), curtailmentTable(report.curtailments || []));
    }
    return { el, refresh, destroy: () => charts.forEach((c) => c.destroy()) };
  },
};
