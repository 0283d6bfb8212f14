// Invoices: one per tenant and month (a tenant sees its own), each with a line per lease.
// Data: GET /v1/invoices.

import { esc, card, table, row, fmtUsd, fmtNum, fmtDuration, setHtml } from '../util.js';
import { api } from '../api.js';

function invoiceBlock(inv, showTenant) {
  const rows = inv.lines.map((l) => row([
    fmtNum(l.lease), fmtNum(l.gpus), fmtDuration(l.seconds),
    fmtNum((l.seconds * l.gpus) / 3600, 2), fmtUsd(l.amount_micro_usd / 1e6),
  ]));
  const title = `${showTenant ? esc(inv.tenant) + ' · ' : ''}${esc(inv.month)}`;
  return `<div class="invoice" data-testid="invoice-${esc(inv.tenant)}-${esc(inv.month)}">` +
    `<div class="invoice-head"><h2>${title}</h2><div class="invoice-total" data-value="${esc(inv.total_usd)}">` +
    `${fmtUsd(inv.total_micro_usd / 1e6)}</div></div>` +
    table([{ label: 'Lease', num: true }, { label: 'GPUs', num: true }, { label: 'Time' }, { label: 'GPU-hours', num: true },
      { label: 'Amount', num: true }], rows, { empty: 'no line' }) + '</div>';
}

export default {
  title: 'Invoices',
  create({ session }) {
    const el = document.createElement('section');
    el.className = 'view view-invoices';
    el.innerHTML = `<h1>Invoices</h1><div class="cards" data-part="cards"></div><div data-part="list" data-testid="invoices"></div>`;
    const part = (p) => el.querySelector(`[data-part="${p}"]`);
    const showTenant = session.role !== 'tenant';

    async function refresh() {
      const { invoices } = await api('/v1/invoices');
      const newest = invoices.slice().sort((a, b) => (a.month < b.month ? 1 : a.month > b.month ? -1 : 0));
      const total = invoices.reduce((s, i) => s + i.total_micro_usd, 0) / 1e6;
      const thisMonth = new Date().toISOString().slice(0, 7);
      const current = invoices.filter((i) => i.month === thisMonth).reduce((s, i) => s + i.total_micro_usd, 0) / 1e6;
      setHtml(part('cards'), [
        card({ label: 'This month', value: fmtUsd(current), raw: current, testid: 'invoices-month' }),
        card({ label: 'All invoices', value: fmtUsd(total), raw: total, sub: `${invoices.length} invoice(s)` }),
      ].join(''));
      setHtml(part('list'), newest.length ? newest.map((i) => invoiceBlock(i, showTenant)).join('')
        : '<p class="muted">No invoice yet: leases are billed to the second while they run.</p>');
    }
    return { el, refresh };
  },
};
