// Logs: a lease's workload output, read from where the last read stopped and appended, until the
// lease has ended and a read comes back empty. Data: GET /v1/leases/{id}/logs?offset=N (raw
// bytes; X-Log-Next-Offset, X-Log-Size, X-Log-Truncated, X-Lease-State, X-Workload-State).

import { apiText, api } from '../api.js';
import { esc, fmtNum, badge } from '../util.js';

const ENDED = ['ended', 'cancelled', 'preempted', 'lost'];
const MAX_SHOWN = 2 * 1024 * 1024; // characters kept on the page; older ones are dropped

export default {
  title: 'Logs',
  create({ params, session }) {
    const id = Number(params[0]);
    const el = document.createElement('section');
    el.className = 'view view-logs';
    if (!Number.isInteger(id) || id <= 0) {
      el.innerHTML = `<h1>Workload log</h1><p class="error">no lease "${esc(params[0] ?? '')}": a lease id is a number</p>`;
      return { el, refresh() {} };
    }
    const back = session.role === 'tenant' ? '#/mine' : '#/leases';
    el.innerHTML = `
      <p class="crumbs"><a href="${back}">${session.role === 'tenant' ? 'My leases' : 'Leases'}</a> ›</p>
      <div class="view-head"><h1>Lease ${esc(id)}: workload log</h1>
        <label class="inline"><input type="checkbox" data-part="follow" checked> follow</label></div>
      <p data-part="meta" data-testid="logs-meta"></p>
      <pre class="log" data-part="text" data-testid="logs-text"></pre>`;
    const part = (p) => el.querySelector(`[data-part="${p}"]`);
    const decoder = new TextDecoder();
    let offset = 0;
    let done = false;
    let truncated = false;

    function meta(headers) {
      const lease = headers.get('X-Lease-State') || '?';
      const workload = headers.get('X-Workload-State') || '?';
      const size = Number(headers.get('X-Log-Size') || offset);
      part('meta').innerHTML = `lease ${badge(lease, 'state-' + lease)} · workload ${badge(workload, 'wl-' + workload)}` +
        ` · ${esc(fmtNum(size))} bytes` + (truncated ? ' · <strong>the log passed 16 MiB: later bytes were not kept</strong>' : '') +
        (done ? ' · <span class="muted">the lease has ended: this is the whole log</span>' : '') +
        (workload === 'pending' && !done
          ? '<br><span class="muted">waiting for the node\'s agent to start it: workloads run under ' +
            '<code>rigshift agent</code> (docs/agent.md); the demo\'s simulated agents start none</span>'
          : '');
    }

    function append(text) {
      const pre = part('text');
      const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.append(document.createTextNode(text));
      if (pre.textContent.length > MAX_SHOWN) pre.textContent = pre.textContent.slice(-MAX_SHOWN);
      if (part('follow').checked && atBottom) pre.scrollTop = pre.scrollHeight;
    }

    async function refresh() {
      if (done) return;
      // Drain what is there now, 64 KiB at a time (bounded, so one poll never runs away).
      for (let i = 0; i < 16; i++) {
        const { text, headers } = await apiText(`/v1/leases/${id}/logs?offset=${offset}`);
        const next = Number(headers.get('X-Log-Next-Offset'));
        truncated = truncated || headers.get('X-Log-Truncated') === 'true';
        if (text) append(text);
        const ended = ENDED.includes(headers.get('X-Lease-State'));
        const moved = Number.isFinite(next) && next > offset;
        if (Number.isFinite(next)) offset = next;
        if (!moved && ended) done = true;
        meta(headers);
        if (!moved) break;
      }
      if (!part('text').textContent) {
        const lease = await api(`/v1/leases/${id}`);
        if (!lease.workload) part('text').textContent = 'This lease runs no workload, so it has no log.';
      }
    }
    return { el, refresh };
  },
};
