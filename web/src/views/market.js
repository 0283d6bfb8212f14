// Market (operator): the market view in force (coin prices and difficulty, electricity per site,
// GPU list prices), the interruptible floor per group from the offers, and, when the server sends
// it, the best coin per GPU model with its net per day.
// Data: GET /v1/market, GET /v1/offers.

import { api } from '../api.js';
import { esc, card, table, row, fmtUsd, fmtNum, fmtTime, setHtml } from '../util.js';

// What 1 GH/s mines per day at this price and difficulty, in USD (before pool fee and power).
function usdPerGhDay(c) {
  const hashes = Number(c.hashes_per_block);
  if (!hashes) return null;
  return (86400 * 1e9 * c.block_reward * c.price_usd) / hashes;
}

function coinTable(coins) {
  const rows = coins.map((c) => row([
    `<strong>${esc(c.coin)}</strong>`, esc(c.algorithm), fmtUsd(c.price_usd, 2), fmtNum(c.block_reward, 4),
    esc(Number(c.hashes_per_block).toExponential(3)), fmtUsd(usdPerGhDay(c), 2),
  ], ` data-testid="market-coin-${esc(c.coin)}"`));
  return table([{ label: 'Coin' }, { label: 'Algorithm' }, { label: 'Price', num: true }, { label: 'Block reward', num: true },
    { label: 'Hashes per block', num: true }, { label: 'USD per GH/s per day', num: true }], rows, { testid: 'market-coins' });
}

function electricityTable(electricity) {
  return table([{ label: 'Site' }, { label: '$/MWh', num: true }],
    electricity.map((e) => row([esc(e.site), fmtNum(e.price_usd_per_mwh, 2)])), { testid: 'market-electricity' });
}

function priceOf(offer, kind) {
  const p = offer && offer.prices.find((x) => x.kind === kind);
  return p ? p.usd_per_gpu_h : null;
}

function listPriceTable(listPrices, offers) {
  const offerOf = new Map(offers.map((o) => [o.group, o]));
  const rows = listPrices.map((lp) => {
    const o = offerOf.get(lp.group);
    return row([
      esc(lp.group), esc(lp.model),
      lp.usd_per_gpu_h ? fmtUsd(lp.usd_per_gpu_h, 3) : '<span class="muted">not offered</span>',
      lp.interruptible_floor_usd_per_gpu_h !== undefined && lp.usd_per_gpu_h
        ? fmtUsd(lp.interruptible_floor_usd_per_gpu_h, 3) : o ? fmtUsd(priceOf(o, 'interruptible'), 3) : '–',
      o ? fmtUsd(priceOf(o, 'reserved'), 3) : '–',
      o ? `${fmtNum(o.gpus_free)} / ${fmtNum(o.gpus_total)}` : '–',
    ], ` data-testid="market-group-${esc(lp.group)}"`);
  });
  return table([{ label: 'Group' }, { label: 'Model' }, { label: 'On-demand $/GPU-h', num: true },
    { label: 'Interruptible floor', num: true }, { label: 'Reserved', num: true }, { label: 'Free / total', num: true }],
  rows, { testid: 'market-list-prices' });
}

function bestCoinTable(best) {
  const rows = best.map((b) => row([
    esc(b.group), esc(b.model), b.coin ? `<strong>${esc(b.coin)}</strong>` : '<span class="muted">none pays</span>',
    b.power_w === null || b.power_w === undefined ? '–' : fmtNum(b.power_w) + ' W',
    fmtUsd(b.revenue_usd_per_day, 3), fmtUsd(b.power_cost_usd_per_day, 3),
    b.net_usd_per_day === null || b.net_usd_per_day === undefined ? '–'
      : `<span class="${b.net_usd_per_day < 0 ? 'neg' : 'pos'}">${fmtUsd(b.net_usd_per_day, 3)}</span>`,
  ], ` data-testid="market-best-${esc(b.group)}"`));
  return table([{ label: 'Group' }, { label: 'Model' }, { label: 'Best coin' }, { label: 'Power', num: true },
    { label: 'Revenue/GPU/day', num: true }, { label: 'Power cost/GPU/day', num: true }, { label: 'Net/GPU/day', num: true }],
  rows, { testid: 'market-best-coins' });
}

export default {
  title: 'Market',
  create() {
    const el = document.createElement('section');
    el.className = 'view view-market';
    el.innerHTML = `
      <h1>Market</h1>
      <div class="cards" data-part="cards"></div>
      <p class="muted" data-part="source"></p>
      <div data-part="best"></div>
      <h2>Coins</h2><div data-part="coins"></div>
      <div class="two-col">
        <div><h2>GPU prices per group</h2><div data-part="prices"></div></div>
        <div><h2>Electricity</h2><div data-part="electricity"></div></div>
      </div>`;
    const part = (p) => el.querySelector(`[data-part="${p}"]`);

    async function refresh() {
      const [m, o] = await Promise.all([api('/v1/market'), api('/v1/offers')]);
      const cards = m.coins.map((c) => card({ label: c.coin + ' price', value: fmtUsd(c.price_usd, 2),
        raw: c.price_usd, testid: 'market-price-' + c.coin, sub: `${fmtUsd(usdPerGhDay(c), 2)} per GH/s per day` }));
      for (const e of m.electricity) {
        cards.push(card({ label: 'Electricity ' + e.site, value: fmtNum(e.price_usd_per_mwh, 2) + ' $/MWh', raw: e.price_usd_per_mwh }));
      }
      cards.push(card({ label: 'Market time', value: fmtTime(m.at).slice(0, 10), sub: fmtTime(m.at).slice(11) + (/^replay/.test(m.source) ? ' · replay' : ''), testid: 'market-at' }));
      setHtml(part('cards'), cards.join(''));
      part('source').textContent = 'Feed: ' + m.source;
      setHtml(part('best'), Array.isArray(m.best_coins) && m.best_coins.length
        ? '<h2>Best use of a mining GPU, per model</h2>' + bestCoinTable(m.best_coins) : '');
      setHtml(part('coins'), coinTable(m.coins));
      setHtml(part('prices'), listPriceTable(m.list_prices, o.offers));
      setHtml(part('electricity'), electricityTable(m.electricity));
    }
    return { el, refresh };
  },
};
