// Alerts (operator): what the operator must see (nodes lost or quarantined, GPUs drained, agents
// that diverge, mining on a leased GPU), newest first, each with an Acknowledge button.
// Data: GET /v1/alerts; POST /v1/alerts/{id}/ack.

import { api } from '../api.js';
import { esc, card, table, row, fmtNum, fmtTime, setHtml, badge } from '../util.js';

function alertRow(a) {
  const action = a.acknowledged
    ? '<span class="muted">acknowledged</span>'
    : `<button type="button" class="btn-quiet" data-action="ack" data-id="${a.id}" data-testid="alert-ack-${a.id}">Acknowledge</button>`;
  return row([
    fmtNum(a.id), esc(fmtTime(a.at)), badge(a.kind, 'alert-' + a.kind),
    `<a href="#/node/${encodeURIComponent(a.node)}">${esc(a.node)}</a>`,
    a.slot === null || a.slot === undefined ? '<span class="muted">node</span>' : fmtNum(a.slot),
    esc(a.message), action,
  ], ` data-testid="alert-${a.id}" class="${a.acknowledged ? 'acked' : 'unacked'}"`);
}

const COLUMNS = [{ label: 'Id', num: true }, { label: 'At' }, { label: 'Kind' }, { label: 'Node' }, { label: 'Slot', num: true },
  { label: 'Message' }, { label: '' }];

export default {
  title: 'Alerts',
  create({ showStatus, refreshNow }) {
    const el = document.createElement('section');
    el.className = 'view view-alerts';
    el.innerHTML = `
      <h1>Alerts</h1>
      <div class="cards" data-part="cards"></div>
      <h2>To acknowledge</h2><div data-part="open"></div>
      <h2>Acknowledged</h2><div data-part="acked"></div>`;
    const part = (p) => el.querySelector(`[data-part="${p}"]`);

    el.addEventListener('click', async (event) => {
      const button = event.target.closest('[data-action="ack"]');
      if (!button) return;
      button.disabled = true;
      try {
        await api(`/v1/alerts/${button.dataset.id}/ack`, { method: 'POST' });
      } catch (e) {
        showStatus(`could not acknowledge alert ${button.dataset.id}: ${e.message}`);
      }
      refreshNow();
    });

    async function refresh() {
      const { alerts } = await api('/v1/alerts');
      const newest = alerts.slice().reverse();
      const open = newest.filter((a) => !a.acknowledged);
      const byKind = {};
      for (const a of open) byKind[a.kind] = (byKind[a.kind] || 0) + 1;
      setHtml(part('cards'), [
        card({ label: 'Unacknowledged', value: fmtNum(open.length), raw: open.length, testid: 'alerts-open',
          tone: open.length ? 'tone-warn' : '' }),
        ...Object.entries(byKind).map(([k, n]) => card({ label: k.replace(/_/g, ' '), value: fmtNum(n) })),
        card({ label: 'All kept', value: fmtNum(alerts.length), sub: 'the last 1000, since the server started' }),
      ].join(''));
      setHtml(part('open'), table(COLUMNS, open.map(alertRow), { testid: 'alerts-unacked', empty: 'nothing to acknowledge' }));
      setHtml(part('acked'), table(COLUMNS, newest.filter((a) => a.acknowledged).map(alertRow),
        { testid: 'alerts-acked', empty: 'none' }));
    }
    return { el, refresh };
  },
};
