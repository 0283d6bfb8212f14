// Offers (tenant): what can be rented now, one row per node group, with filters (model, VRAM,
// interconnect, price, kind) and a Rent button that opens the new-lease form filled in.
// Data: GET /v1/offers.

import { api } from '../api.js';
import { esc, card, table, row, fmtUsd, fmtNum, fmtTime, setHtml, badge } from '../util.js';

const KINDS = [['on_demand', 'On-demand'], ['interruptible', 'Interruptible'], ['reserved', 'Reserved']];
const RANK = { any: 0, node: 1, nvlink: 2 };

function priceOf(offer, kind) {
  const p = offer.prices.find((x) => x.kind === kind);
  return p ? p.usd_per_gpu_h : null;
}

function matches(offer, f) {
  if (f.model && offer.model !== f.model) return false;
  if (f.minVram && offer.vram_gb < f.minVram) return false;
  if (RANK[offer.interconnect] < RANK[f.interconnect]) return false;
  const price = priceOf(offer, f.kind);
  if (f.maxPrice && (price === null || price > f.maxPrice)) return false;
  return true;
}

function interconnectText(o) {
  if (o.interconnect === 'nvlink') return `NVLink, ${o.nvlink_domain_gpus} GPUs per domain`;
  if (o.interconnect === 'node') return `within a node (PCIe), ${o.gpus_per_node} per node`;
  return o.interconnect;
}

function offerRow(o, f) {
  const kind = f.kind;
  const rent = `#/new?model=${encodeURIComponent(o.model)}&kind=${kind}&interconnect=${f.interconnect}`;
  const prices = KINDS.map(([k]) => {
    const p = priceOf(o, k);
    return `<span class="${k === kind ? 'price-selected' : ''}">${fmtUsd(p, 3)}</span>`;
  });
  return row([
    `<strong>${esc(o.model)}</strong><div class="muted small">${esc(o.group)} · ${esc(o.site)}</div>`,
    fmtNum(o.vram_gb) + ' GB', badge(o.tier, 'tier-' + o.tier), esc(interconnectText(o)),
    `<span data-testid="offer-free-${esc(o.group)}" data-value="${o.gpus_free}">${fmtNum(o.gpus_free)}</span> / ${fmtNum(o.gpus_total)}`,
    fmtNum(o.nodes), ...prices,
    `<a class="btn-link" href="${esc(rent)}" data-testid="offer-rent-${esc(o.group)}">Rent</a>`,
  ], ` data-testid="offer-${esc(o.group)}" data-model="${esc(o.model)}"`);
}

const COLUMNS = [{ label: 'Model' }, { label: 'VRAM', num: true }, { label: 'Tier' }, { label: 'Interconnect' },
  { label: 'Free / total', num: true }, { label: 'Nodes', num: true },
  ...KINDS.map(([, label]) => ({ label: label + ' $/GPU-h', num: true })), { label: '' }];

export default {
  title: 'Offers',
  create() {
    const el = document.createElement('section');
    el.className = 'view view-offers';
    el.innerHTML = `
      <h1>Offers</h1>
      <div class="cards" data-part="cards"></div>
      <form class="filters" data-testid="offers-filters">
        <label>Model <select name="model" data-testid="offers-filter-model"><option value="">any</option></select></label>
        <label>Min VRAM (GB) <input type="number" name="minVram" min="0" step="1" data-testid="offers-filter-vram"></label>
        <label>Interconnect <select name="interconnect" data-testid="offers-filter-interconnect">
          <option value="any">any</option><option value="node">within a node</option><option value="nvlink">NVLink</option></select></label>
        <label>Kind <select name="kind" data-testid="offers-filter-kind">
          ${KINDS.map(([k, label]) => `<option value="${k}">${label}</option>`).join('')}</select></label>
        <label>Max $/GPU-h <input type="number" name="maxPrice" min="0" step="0.01" data-testid="offers-filter-price"></label>
        <button type="reset" class="btn-quiet">Clear</button>
      </form>
      <div data-part="table"></div>
      <p class="muted" data-part="at"></p>`;
    const form = el.querySelector('form');
    const part = (p) => el.querySelector(`[data-part="${p}"]`);
    let offers = [];
    let at = '';

    function filters() {
      return {
        model: form.model.value,
        minVram: Number(form.minVram.value) || 0,
        interconnect: form.interconnect.value,
        kind: form.kind.value,
        maxPrice: Number(form.maxPrice.value) || 0,
      };
    }

    function fillModels() {
      const models = [...new Set(offers.map((o) => o.model))];
      const have = [...form.model.options].slice(1).map((o) => o.value);
      if (models.join('\n') === have.join('\n')) return;
      const chosen = form.model.value;
      form.model.innerHTML = '<option value="">any</option>' + models.map((m) => `<option>${esc(m)}</option>`).join('');
      form.model.value = models.includes(chosen) ? chosen : '';
    }

    function draw() {
      const f = filters();
      const shown = offers.filter((o) => matches(o, f));
      const free = offers.reduce((s, o) => s + o.gpus_free, 0);
      const cheapest = shown.map((o) => priceOf(o, f.kind)).filter((p) => p !== null).sort((a, b) => a - b)[0];
      setHtml(part('cards'), [
        card({ label: 'GPUs free now', value: fmtNum(free), raw: free, testid: 'offers-free',
          sub: `of ${fmtNum(offers.reduce((s, o) => s + o.gpus_total, 0))} offered` }),
        card({ label: 'Models', value: fmtNum(new Set(offers.map((o) => o.model)).size) }),
        card({ label: 'Cheapest shown', value: cheapest === undefined ? '–' : fmtUsd(cheapest, 3) + '/GPU-h',
          sub: f.kind.replace('_', '-') }),
      ].join(''));
      setHtml(part('table'), table(COLUMNS, shown.map((o) => offerRow(o, f)),
        { testid: 'offers-table', empty: 'no offer matches these filters' }));
      part('at').textContent = `${shown.length} of ${offers.length} offers · as of ${fmtTime(at)}`;
    }

    form.addEventListener('input', draw);
    form.addEventListener('change', draw);
    form.addEventListener('reset', () => setTimeout(draw));
    form.addEventListener('submit', (e) => e.preventDefault());

    async function refresh() {
      const body = await api('/v1/offers');
      offers = body.offers;
      at = body.at;
      fillModels();
      draw();
    }
    return { el, refresh };
  },
};
