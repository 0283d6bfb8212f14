// Pieces of lease tables shared by My leases (tenant) and Leases (operator): device lists, cost
// cells with a live estimate, the two-click Cancel button and its handler.

import { api } from '../api.js';
import { esc, fmtUsd, fmtTime, fmtDuration, badge } from '../util.js';

export const ACTIVE = ['pending', 'running'];

// "gpu-3090-3: 0 1 2 3" per node, one line each, from [{node, slot, model}].
export function devicesCell(lease, { linkNodes = false } = {}) {
  if (!lease.devices.length) return '<span class="muted">none yet</span>';
  const byNode = new Map();
  for (const d of lease.devices) {
    if (!byNode.has(d.node)) byNode.set(d.node, []);
    byNode.get(d.node).push(d.slot);
  }
  const parts = [...byNode.entries()].map(([node, slots]) => {
    const name = linkNodes ? `<a href="#/node/${encodeURIComponent(node)}">${esc(node)}</a>` : esc(node);
    return `${name}: ${esc(slots.join(' '))}`;
  });
  return `<span data-testid="lease-devices-${lease.id}" data-count="${lease.devices.length}">${parts.join('<br>')}</span>`;
}

// Seconds the lease has run (to its end, or to now).
export function runSeconds(lease, now = Date.now()) {
  if (!lease.started_at) return 0;
  const end = lease.ended_at ? Date.parse(lease.ended_at) : now;
  return Math.max(0, (end - Date.parse(lease.started_at)) / 1000);
}

export function estimateUsd(lease, now = Date.now()) {
  return (lease.price_usd_per_gpu_h * lease.gpus * runSeconds(lease, now)) / 3600;
}

export function costCell(lease) {
  const billed = `<span data-testid="lease-cost-${lease.id}" data-value="${esc(lease.billed_usd)}">${fmtUsd(lease.billed_usd)}</span>`;
  if (lease.state !== 'running') return billed;
  return `${billed}<div class="muted small" data-testid="lease-estimate-${lease.id}">≈ ${fmtUsd(estimateUsd(lease))} by now</div>`;
}

export function stateCell(lease) {
  return `<span data-testid="lease-state-${lease.id}" data-state="${esc(lease.state)}">${badge(lease.state, 'state-' + lease.state)}</span>`;
}

export function startedCell(lease) {
  if (!lease.started_at) return `<span class="muted">asked ${esc(fmtTime(lease.created_at))}</span>`;
  const ran = lease.state === 'running' ? `<div class="muted small">${esc(fmtDuration(runSeconds(lease)))} ago</div>` : '';
  return esc(fmtTime(lease.started_at)) + ran;
}

export function priceCell(lease) {
  return `${fmtUsd(lease.price_usd_per_gpu_h, 3)}<div class="muted small">${esc(lease.kind.replace('_', '-'))}</div>`;
}

export function hoursText(lease) {
  return lease.hours === null || lease.hours === undefined ? 'until cancelled' : `${lease.hours} h`;
}

export function askedText(lease) {
  const models = lease.models.length ? lease.models.join(' or ') : 'any model';
  const parts = [`${lease.gpus} × ${models}`];
  if (lease.interconnect && lease.interconnect !== 'any') parts.push(lease.interconnect);
  if (lease.min_vram_gb) parts.push(`≥ ${lease.min_vram_gb} GB`);
  parts.push(hoursText(lease));
  return parts.join(', ');
}

export function workloadCell(lease) {
  const w = lease.workload;
  if (!w) return '<span class="muted">–</span>';
  const what = w.image ? w.image : (w.command || []).join(' ');
  const exit = w.exit_code !== null && w.exit_code !== undefined ? ` (exit ${w.exit_code})` : '';
  return `<span class="mono small">${esc(what)}</span><div>${badge(w.state + exit, 'wl-' + w.state)}` +
    ` <a href="#/logs/${lease.id}" data-testid="lease-logs-${lease.id}">Logs</a></div>` +
    (w.message ? `<div class="small error-text">${esc(w.message)}</div>` : '');
}

// The Cancel button: the first click arms it, a second within 4 s cancels.
export class CancelButtons {
  constructor(onDone) {
    this.armed = new Map(); // id -> timer
    this.onDone = onDone;
  }

  html(lease) {
    if (!ACTIVE.includes(lease.state)) return '';
    const armed = this.armed.has(lease.id);
    return `<button type="button" class="${armed ? 'btn-danger' : 'btn-quiet'}" data-action="cancel" data-id="${lease.id}"` +
      ` data-testid="lease-cancel-${lease.id}">${armed ? 'Confirm cancel' : 'Cancel'}</button>`;
  }

  // Wire once on the view's root element (event delegation survives table re-renders).
  attach(root, showError) {
    root.addEventListener('click', async (event) => {
      const button = event.target.closest('[data-action="cancel"]');
      if (!button) return;
      const id = Number(button.dataset.id);
      if (!this.armed.has(id)) {
        this.armed.set(id, setTimeout(() => { this.armed.delete(id); this.onDone(); }, 4000));
        button.textContent = 'Confirm cancel';
        button.className = 'btn-danger';
        return;
      }
      clearTimeout(this.armed.get(id));
      this.armed.delete(id);
      button.disabled = true;
      button.textContent = 'Cancelling…';
      try {
        await api('/v1/leases/' + id, { method: 'DELETE' });
      } catch (e) {
        showError(`could not cancel lease ${id}: ${e.message}`);
      }
      this.onDone();
    });
  }

  destroy() {
    for (const t of this.armed.values()) clearTimeout(t);
  }
}
