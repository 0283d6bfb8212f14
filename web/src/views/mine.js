// My leases (tenant): the tenant's leases, active ones first: state, GPUs and devices, when they
// started, what they cost so far (billed by the server, and a live estimate), Cancel, and a Logs
// link for a lease with a workload. Data: GET /v1/leases; DELETE /v1/leases/{id}.

import { api } from '../api.js';
import { esc, card, table, row, fmtUsd, fmtNum, setHtml } from '../util.js';
import {
  ACTIVE, CancelButtons, askedText, costCell, devicesCell, estimateUsd, priceCell, startedCell, stateCell,
  workloadCell,
} from './lease_parts.js';

const COLUMNS = [
  { label: 'Lease', num: true }, { label: 'State' }, { label: 'Asked' }, { label: 'Devices' }, { label: 'Started' },
  { label: 'Price $/GPU-h', num: true }, { label: 'Cost so far', num: true }, { label: 'Workload' }, { label: 'Note' }, { label: '' },
];

function leaseRow(l, cancel) {
  return row([
    fmtNum(l.id), stateCell(l), esc(askedText(l)), devicesCell(l), startedCell(l), priceCell(l), costCell(l),
    workloadCell(l), l.reason ? `<span class="reason">${esc(l.reason)}</span>` : '', cancel.html(l),
  ], ` data-testid="lease-${l.id}" data-state="${esc(l.state)}"`);
}

export default {
  title: 'My leases',
  create({ showStatus, refreshNow, query }) {
    const el = document.createElement('section');
    el.className = 'view view-mine';
    el.innerHTML = `
      <div class="view-head"><h1>My leases</h1><a class="btn-link" href="#/new">New lease</a></div>
      <p class="notice notice-ok" data-part="flash" hidden></p>
      <div class="cards" data-part="cards"></div>
      <h2>Active</h2><div data-part="active"></div>
      <h2>Ended</h2><div data-part="ended"></div>`;
    const part = (p) => el.querySelector(`[data-part="${p}"]`);
    const cancel = new CancelButtons(() => refreshNow());
    cancel.attach(el, (m) => showStatus(m));
    if (query.get('created')) {
      part('flash').textContent = `Lease ${query.get('created')} created.`;
      part('flash').hidden = false;
    }

    async function refresh() {
      const { leases } = await api('/v1/leases');
      const active = leases.filter((l) => ACTIVE.includes(l.state));
      const ended = leases.filter((l) => !ACTIVE.includes(l.state)).reverse().slice(0, 50);
      const running = active.filter((l) => l.state === 'running');
      const gpus = running.reduce((s, l) => s + l.gpus, 0);
      const perHour = running.reduce((s, l) => s + l.gpus * l.price_usd_per_gpu_h, 0);
      const billed = leases.reduce((s, l) => s + l.billed_micro_usd, 0) / 1e6;
      setHtml(part('cards'), [
        card({ label: 'Running', value: `${running.length} lease(s)`, sub: `${gpus} GPUs`, testid: 'mine-running', raw: running.length }),
        card({ label: 'Waiting', value: fmtNum(active.length - running.length), testid: 'mine-pending' }),
        card({ label: 'Spending now', value: fmtUsd(perHour, 2) + '/h', raw: perHour }),
        card({ label: 'Billed, all leases', value: fmtUsd(billed), raw: billed, testid: 'mine-billed',
          sub: '≈ ' + fmtUsd(running.reduce((s, l) => s + estimateUsd(l), 0)) + ' by now on running leases' }),
      ].join(''));
      setHtml(part('active'), table(COLUMNS, active.map((l) => leaseRow(l, cancel)),
        { testid: 'mine-active', empty: 'no active lease: rent GPUs from the offers' }));
      setHtml(part('ended'), table(COLUMNS, ended.map((l) => leaseRow(l, cancel)), { testid: 'mine-ended', empty: 'none yet' }));
    }
    return { el, refresh, destroy: () => cancel.destroy() };
  },
};
