// Node (operator): one node's state, its GPUs, and charts of their power, temperature and hashrate
// over its recent heartbeats. Data: GET /v1/nodes/NAME (the node, "devices", "telemetry").

import { api } from '../api.js';
import { esc, card, table, row, fmtNum, fmtTime, fmtHashrate, setHtml, badge } from '../util.js';
import { TimeChart, COLORS } from '../charts.js';

const METRICS = [
  { key: 'power_w', title: 'Power (W)', label: 'W', fmt: (v) => fmtNum(v) + ' W' },
  { key: 'temperature_c', title: 'Temperature (°C)', label: '°C', fmt: (v) => fmtNum(v) + ' °C' },
  { key: 'hashrate_hs', title: 'Hashrate (MH/s)', label: 'MH/s', fmt: (v) => fmtNum(v / 1e6, 1), scale: 1 },
];

function infoCards(n) {
  const host = n.host || {};
  return [
    card({ label: 'Agent', value: n.agent_state, testid: 'node-agent-state',
      sub: n.last_heartbeat_at ? 'last heartbeat ' + fmtTime(n.last_heartbeat_at) : 'no heartbeat yet' }),
    card({ label: 'GPUs', value: `${n.gpus} × ${n.model}`, sub: `group ${n.group} · site ${n.site}` }),
    card({ label: 'Generation', value: `${n.reported_generation ?? '–'} / ${n.desired_generation ?? '–'}`,
      sub: 'reported / desired' }),
    card({ label: 'Divergent GPUs', value: fmtNum(n.divergent_devices || 0), tone: n.divergent_devices ? 'tone-warn' : '' }),
    card({ label: 'Host', value: host.cpu_cores ? `${host.cpu_cores} cores` : '–',
      sub: [host.cpu_model, host.ram_mib ? fmtNum(host.ram_mib / 1024) + ' GiB RAM' : '', host.driver_version ? 'driver ' + host.driver_version : '']
        .filter(Boolean).join(' · ') || 'not reported' }),
  ].join('');
}

function notices(n) {
  const out = [];
  if (n.quarantine) out.push(`<p class="notice notice-error">Quarantined: ${esc(n.quarantine)}</p>`);
  if (n.closed) out.push(`<p class="notice">Closed to leases (mines only): ${esc(n.closed)}</p>`);
  return out.join('');
}

function deviceTable(devices) {
  const rows = devices.map((d) => {
    const o = d.observed || {};
    return row([
      fmtNum(d.slot), esc(d.model), badge(d.use, 'use-' + d.use),
      esc(d.coin ?? ''), d.lease ? `<a href="#/leases">${esc(d.lease)}</a>` : '',
      fmtNum(o.power_w ?? d.power_w), fmtNum(o.temperature_c), fmtNum(o.utilization_pct),
      fmtHashrate(o.hashrate_hs), fmtNum(o.memory_used_mib), fmtNum(o.ecc_errors), fmtNum(o.xid_errors),
      d.pcie && d.pcie.gen ? `gen${esc(d.pcie.gen)} x${esc(d.pcie.width)}` : '–',
      badge(d.tier, 'tier-' + d.tier),
      esc([d.drained ? 'drained: ' + d.drained : '', d.divergence ? 'diverges: ' + d.divergence : ''].filter(Boolean).join('; ')),
    ], ` data-testid="node-device-${esc(d.slot)}"`);
  });
  return table([
    { label: 'Slot', num: true }, { label: 'Model' }, { label: 'Use' }, { label: 'Coin' }, { label: 'Lease' },
    { label: 'Power W', num: true }, { label: 'Temp °C', num: true }, { label: 'Util %', num: true },
    { label: 'Hashrate', num: true }, { label: 'Mem MiB', num: true }, { label: 'ECC', num: true }, { label: 'XID', num: true },
    { label: 'PCIe' }, { label: 'Tier' }, { label: 'Problems' },
  ], rows, { testid: 'node-devices' });
}

// One array per slot of the metric over the heartbeats (null where a heartbeat lacks it).
function seriesFor(telemetry, slots, key) {
  return slots.map((slot) => telemetry.map((t) => {
    const d = (t.devices || []).find((x) => x.slot === slot);
    return d && d[key] !== undefined ? d[key] : null;
  }));
}

export default {
  title: 'Node',
  create({ params }) {
    const name = params[0] || '';
    const el = document.createElement('section');
    el.className = 'view view-node';
    el.innerHTML = `
      <p class="crumbs"><a href="#/fleet">Fleet</a> ›</p>
      <h1 data-testid="node-name">${esc(name)}</h1>
      <div data-part="notices"></div>
      <div class="cards" data-part="cards"></div>
      <h2>GPUs</h2><div data-part="devices"></div>
      <h2>Telemetry <span class="muted" data-part="span"></span></h2>
      <div class="chart-grid" data-part="charts" data-testid="node-charts"></div>`;
    const part = (p) => el.querySelector(`[data-part="${p}"]`);
    let charts = null;

    function buildCharts(slots) {
      charts = METRICS.map((m) => {
        const box = document.createElement('div');
        box.className = 'chart';
        box.dataset.testid = 'node-chart-' + m.key;
        part('charts').appendChild(box);
        return new TimeChart(box, {
          title: m.title,
          height: 200,
          axes: [{ scale: 'y', label: m.label, fmt: m.key === 'hashrate_hs' ? (v) => fmtNum(v / 1e6) : (v) => fmtNum(v) }],
          series: slots.map((slot, i) => ({ label: 'slot ' + slot, scale: 'y', stroke: COLORS.series[i % COLORS.series.length], fmt: m.fmt, width: 1.5 })),
        });
      });
    }

    async function refresh() {
      const n = await api('/v1/nodes/' + encodeURIComponent(name));
      const devices = n.devices || [];
      const telemetry = n.telemetry || [];
      setHtml(part('notices'), notices(n));
      setHtml(part('cards'), infoCards(n));
      setHtml(part('devices'), deviceTable(devices));
      const slots = devices.map((d) => d.slot);
      if (!charts) buildCharts(slots);
      const xs = telemetry.map((t) => t.t_s ?? Date.parse(t.at) / 1000);
      METRICS.forEach((m, i) => {
        const ys = seriesFor(telemetry, slots, m.key);
        const any = ys.some((s) => s.some((v) => v !== null));
        charts[i].container.hidden = !any; // the agent reports no such telemetry
        charts[i].setData(xs, ys);
      });
      const missing = METRICS.filter((m, i) => charts[i].container.hidden).map((m) => m.title.replace(/ \(.*/, '').toLowerCase());
      part('span').textContent = (telemetry.length
        ? `${telemetry.length} heartbeats, ${fmtTime(telemetry[0].at)} to ${fmtTime(telemetry[telemetry.length - 1].at)}`
        : 'no heartbeats yet') + (telemetry.length && missing.length ? ` · not reported: ${missing.join(', ')}` : '');
    }
    return { el, refresh, destroy: () => charts && charts.forEach((c) => c.destroy()) };
  },
};
