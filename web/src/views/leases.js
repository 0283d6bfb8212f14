// Leases (operator): every tenant's leases. Running ones, the queue of waiting requests with why
// each waits, and the last 50 that ended. Data: GET /v1/leases; DELETE /v1/leases/{id}.

import { api } from '../api.js';
import { esc, card, table, row, fmtUsd, fmtNum, fmtTime, fmtDuration, secondsSince, setHtml } from '../util.js';
import {
  CancelButtons, askedText, costCell, devicesCell, priceCell, startedCell, stateCell, workloadCell,
} from './lease_parts.js';

function runningTable(leases, cancel) {
  const rows = leases.map((l) => row([
    fmtNum(l.id), esc(l.tenant), esc(askedText(l)), devicesCell(l, { linkNodes: true }), startedCell(l),
    priceCell(l), costCell(l), workloadCell(l), cancel.html(l),
  ], ` data-testid="lease-${l.id}" data-state="${esc(l.state)}"`));
  return table([{ label: 'Lease', num: true }, { label: 'Tenant' }, { label: 'Asked' }, { label: 'Devices' },
    { label: 'Started' }, { label: 'Price', num: true }, { label: 'Billed', num: true }, { label: 'Workload' }, { label: '' }],
  rows, { testid: 'leases-running', empty: 'no lease is running' });
}

function pendingTable(leases, cancel) {
  const rows = leases.map((l, i) => row([
    fmtNum(i + 1), fmtNum(l.id), esc(l.tenant), esc(askedText(l)), priceCell(l),
    `${esc(fmtTime(l.created_at))}<div class="muted small">waiting ${esc(fmtDuration(secondsSince(l.created_at)))}</div>`,
    `<span class="reason reason-big" data-testid="lease-reason-${l.id}">${esc(l.reason || 'waiting for GPUs')}</span>`,
    cancel.html(l),
  ], ` data-testid="lease-${l.id}" data-state="pending"`));
  return table([{ label: '#', num: true }, { label: 'Lease', num: true }, { label: 'Tenant' }, { label: 'Asked' },
    { label: 'Price', num: true }, { label: 'Asked at' }, { label: 'Why it waits' }, { label: '' }],
  rows, { testid: 'leases-pending', empty: 'no request is waiting' });
}

function endedTable(leases) {
  const rows = leases.map((l) => row([
    fmtNum(l.id), esc(l.tenant), stateCell(l), esc(askedText(l)), esc(fmtTime(l.started_at)), esc(fmtTime(l.ended_at)),
    costCell(l), l.reason ? `<span class="reason">${esc(l.reason)}</span>` : '',
  ], ` data-testid="lease-${l.id}" data-state="${esc(l.state)}"`));
  return table([{ label: 'Lease', num: true }, { label: 'Tenant' }, { label: 'State' }, { label: 'Asked' }, { label: 'Started' },
    { label: 'Ended' }, { label: 'Billed', num: true }, { label: 'Why' }], rows, { testid: 'leases-ended', empty: 'none yet' });
}

export default {
  title: 'Leases',
  create({ showStatus, refreshNow }) {
    const el = document.createElement('section');
    el.className = 'view view-leases';
    el.innerHTML = `
      <h1>Leases</h1>
      <div class="cards" data-part="cards"></div>
      <h2>Waiting</h2><div data-part="pending"></div>
      <h2>Running</h2><div data-part="running"></div>
      <h2>Ended <span class="muted">(last 50)</span></h2><div data-part="ended"></div>`;
    const part = (p) => el.querySelector(`[data-part="${p}"]`);
    const cancel = new CancelButtons(() => refreshNow());
    cancel.attach(el, (m) => showStatus(m));

    async function refresh() {
      const { leases } = await api('/v1/leases');
      const running = leases.filter((l) => l.state === 'running');
      const pending = leases.filter((l) => l.state === 'pending');
      const ended = leases.filter((l) => l.state !== 'running' && l.state !== 'pending').reverse().slice(0, 50);
      const gpus = running.reduce((s, l) => s + l.gpus, 0);
      const perDay = running.reduce((s, l) => s + l.gpus * l.price_usd_per_gpu_h * 24, 0);
      const tenants = new Set(running.map((l) => l.tenant));
      setHtml(part('cards'), [
        card({ label: 'Running', value: fmtNum(running.length), raw: running.length, testid: 'leases-running-count',
          sub: `${gpus} GPUs · ${tenants.size} tenant(s)` }),
        card({ label: 'Waiting', value: fmtNum(pending.length), raw: pending.length, testid: 'leases-pending-count',
          sub: pending.length ? `${pending.reduce((s, l) => s + l.gpus, 0)} GPUs asked` : '', tone: pending.length ? 'tone-warn' : '' }),
        card({ label: 'AI revenue now', value: fmtUsd(perDay, 2) + '/day', raw: perDay }),
      ].join(''));
      setHtml(part('pending'), pendingTable(pending, cancel));
      setHtml(part('running'), runningTable(running, cancel));
      setHtml(part('ended'), endedTable(ended));
    }
    return { el, refresh, destroy: () => cancel.destroy() };
  },
};
