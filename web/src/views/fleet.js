// Fleet (operator): what every GPU does now. Key numbers (GPUs by use, revenue rates), the sites'
// power, one table row per node group, and a grid of squares, one per GPU, per node group.
// Data: GET /v1/devices, /v1/nodes, /v1/sites, /v1/leases?state=running, and the server's rates
// per day now (GET /v1/reports/money: `now`, computed by the controller, not here).

import { api } from '../api.js';
import { esc, card, table, row, fmtUsd, fmtKw, fmtPct, fmtNum, setHtml, badge } from '../util.js';

const USES = ['lease', 'mining', 'idle', 'curtailed', 'offline'];

function countBy(items, key) {
  const counts = {};
  for (const item of items) {
    const k = key(item);
    if (k !== null && k !== undefined) counts[k] = (counts[k] || 0) + 1;
  }
  return counts;
}

function coinList(devices) {
  return [...new Set(devices.filter((d) => d.use === 'mining' && d.coin).map((d) => d.coin))].sort();
}

function miningText(counts) {
  const parts = Object.entries(counts).sort().map(([coin, n]) => `${n} ${coin}`);
  return parts.join(', ');
}

function cards(devices, nodes, leases, now) {
  const byUse = countBy(devices, (d) => d.use);
  const byCoin = countBy(devices.filter((d) => d.use === 'mining'), (d) => d.coin || '?');
  const drained = devices.filter((d) => d.drained).length;
  const quarantinedNodes = new Set(nodes.filter((n) => n.quarantine || n.agent_state === 'quarantined').map((n) => n.name));
  const quarantined = devices.filter((d) => quarantinedNodes.has(d.node)).length;
  // Offline for another reason than a drain or a quarantine (those have their own cards).
  const offline = devices.filter((d) => d.use === 'offline' && !d.drained && !quarantinedNodes.has(d.node)).length;
  const ai = now ? now.ai_usage_usd_per_day : null;
  const mining = now ? now.mining_revenue_usd_per_day : null;
  const miningUsd = now ? fmtUsd(mining, 2) + '/day' : '–';
  return [
    card({ label: 'GPUs leased', value: fmtNum(byUse.lease || 0), raw: byUse.lease || 0, testid: 'fleet-lease',
      sub: now ? `earning ${fmtUsd(ai, 2)}/day` : '', tone: 'tone-lease' }),
    card({ label: 'GPUs mining', value: fmtNum(byUse.mining || 0), raw: byUse.mining || 0, testid: 'fleet-mining',
      sub: (miningText(byCoin) || 'no coin') + (now ? ' · earning ' + miningUsd : ''), tone: 'tone-mining' }),
    card({ label: 'Idle', value: fmtNum(byUse.idle || 0), raw: byUse.idle || 0, testid: 'fleet-idle' }),
    card({ label: 'Curtailed', value: fmtNum(byUse.curtailed || 0), raw: byUse.curtailed || 0, testid: 'fleet-curtailed' }),
    card({ label: 'Offline', value: fmtNum(offline), raw: offline, testid: 'fleet-offline',
      sub: 'node down or silent' }),
    card({ label: 'Drained', value: fmtNum(drained), raw: drained, testid: 'fleet-drained' }),
    card({ label: 'Quarantined', value: fmtNum(quarantined), raw: quarantined, testid: 'fleet-quarantined',
      sub: quarantinedNodes.size ? `${quarantinedNodes.size} node(s)` : '' }),
    card({ label: 'AI revenue now', value: now ? fmtUsd(ai, 2) + '/day' : '–', raw: ai, testid: 'fleet-ai-per-day',
      sub: `${leases.length} running lease(s)`, tone: 'tone-lease' }),
    card({ label: 'Mining revenue now', value: miningUsd, raw: mining, testid: 'fleet-mining-per-day',
      sub: now ? `at market prices now · energy ${fmtUsd(now.energy_cost_usd_per_day, 2)}/day for the whole fleet` : 'no data',
      tone: 'tone-mining' }),
  ].join('');
}

function sitesTable(sites) {
  const rows = sites.map((s) => row([
    esc(s.name),
    fmtKw(s.draw_w),
    fmtKw(s.power_cap_w, 0),
    fmtPct(s.power_cap_w ? (100 * s.draw_w) / s.power_cap_w : null),
    fmtUsd(s.price_usd_per_mwh, 2) + ' /MWh',
    fmtNum(s.pue, 2),
    esc(s.settlement_point ?? s.tariff ?? ''),
    s.datacenter ? 'yes' : 'no',
  ]));
  return table([
    { label: 'Site' }, { label: 'Draw', num: true }, { label: 'Cap', num: true }, { label: 'Of cap', num: true },
    { label: 'Electricity', num: true }, { label: 'PUE', num: true }, { label: 'Price series' }, { label: 'Datacenter' },
  ], rows, { testid: 'fleet-sites' });
}

// Groups in the order the devices come (the fleet's order), with their site from the nodes.
function groupsOf(devices, nodes) {
  const siteOf = new Map(nodes.map((n) => [n.group, n.site]));
  const groups = new Map();
  for (const d of devices) {
    if (!groups.has(d.group)) groups.set(d.group, { name: d.group, site: siteOf.get(d.group) || '', model: d.model, devices: [] });
    groups.get(d.group).devices.push(d);
  }
  return [...groups.values()];
}

function reasonsOf(devices) {
  const reasons = new Set();
  for (const d of devices) for (const r of d.reasons || []) reasons.add(r);
  if (devices.some((d) => !d.ai_licensed)) reasons.add('AI not licensed at this site');
  return [...reasons];
}

function groupsTable(groups) {
  const rows = groups.map((g) => {
    const byUse = countBy(g.devices, (d) => d.use);
    const byCoin = countBy(g.devices.filter((d) => d.use === 'mining'), (d) => d.coin || '?');
    const tiers = [...new Set(g.devices.map((d) => d.tier))];
    const reasons = reasonsOf(g.devices);
    return row([
      esc(g.site), esc(g.name), esc(g.model), fmtNum(g.devices.length),
      fmtNum(byUse.lease || 0),
      fmtNum(byUse.mining || 0) + (byUse.mining ? ` <span class="muted">(${esc(miningText(byCoin))})</span>` : ''),
      fmtNum(byUse.idle || 0), fmtNum(byUse.curtailed || 0), fmtNum(byUse.offline || 0),
      tiers.map((t) => badge(t, 'tier-' + t)).join(' '),
      reasons.length ? `<ul class="reasons">${reasons.map((r) => `<li>${esc(r)}</li>`).join('')}</ul>` : '<span class="muted">–</span>',
    ], ` data-testid="group-${esc(g.name)}"`);
  });
  return table([
    { label: 'Site' }, { label: 'Group' }, { label: 'Model' }, { label: 'GPUs', num: true },
    { label: 'Lease', num: true }, { label: 'Mining', num: true }, { label: 'Idle', num: true },
    { label: 'Curtailed', num: true }, { label: 'Offline', num: true }, { label: 'Tier' }, { label: 'Why not higher' },
  ], rows, { testid: 'fleet-groups' });
}

function squareTitle(d) {
  const parts = [`${d.node} slot ${d.slot}`, d.model, d.use];
  if (d.coin) parts.push(d.coin);
  if (d.lease) parts.push('lease ' + d.lease);
  if (d.drained) parts.push('drained: ' + d.drained);
  if (d.divergence) parts.push('diverges: ' + d.divergence);
  if (d.power_w !== null && d.power_w !== undefined) parts.push(d.power_w + ' W');
  return parts.join(' · ');
}

function square(d, coins) {
  const classes = ['gpu', 'use-' + d.use];
  if (d.use === 'mining' && d.coin) classes.push('coin-' + Math.max(0, coins.indexOf(d.coin)) % 4);
  if (d.drained) classes.push('drained');
  if (d.divergence) classes.push('divergent');
  return `<span class="${classes.join(' ')}" data-testid="gpu-${esc(d.node)}-${esc(d.slot)}" data-use="${esc(d.use)}"` +
    ` data-lease="${esc(d.lease ?? '')}" title="${esc(squareTitle(d))}"></span>`;
}

function nodeChip(name, devices, nodeInfo, coins) {
  const state = nodeInfo ? nodeInfo.agent_state : '';
  const flags = [];
  if (state && state !== 'ready') flags.push(badge(state, 'state-' + state));
  if (nodeInfo && nodeInfo.closed) flags.push(`<span class="badge badge-closed" title="${esc(nodeInfo.closed)}">closed</span>`);
  return `<div class="node-chip"><a href="#/node/${encodeURIComponent(name)}" data-testid="node-link-${esc(name)}">${esc(name)}</a>` +
    `${flags.join('')}<div class="gpus">${devices.map((d) => square(d, coins)).join('')}</div></div>`;
}

function grids(groups, nodes, coins) {
  const nodeByName = new Map(nodes.map((n) => [n.name, n]));
  return groups.map((g) => {
    const byNode = new Map();
    for (const d of g.devices) {
      if (!byNode.has(d.node)) byNode.set(d.node, []);
      byNode.get(d.node).push(d);
    }
    const chips = [...byNode.entries()].map(([name, ds]) => nodeChip(name, ds, nodeByName.get(name), coins));
    return `<div class="grid-group"><h3>${esc(g.name)} <span class="muted">${esc(g.model)} · ${g.devices.length} GPUs</span></h3>` +
      `<div class="node-chips">${chips.join('')}</div></div>`;
  }).join('');
}

function legend(coins) {
  const items = USES.map((u) => u === 'mining'
    ? coins.map((c, i) => `<span class="legend-item"><span class="gpu use-mining coin-${i % 4}"></span>mining ${esc(c)}</span>`).join('') ||
      '<span class="legend-item"><span class="gpu use-mining"></span>mining</span>'
    : `<span class="legend-item"><span class="gpu use-${u}"></span>${u}</span>`);
  items.push('<span class="legend-item"><span class="gpu use-offline drained"></span>drained</span>');
  return `<div class="legend">${items.join('')}</div>`;
}

export default {
  title: 'Fleet',
  create() {
    const el = document.createElement('section');
    el.className = 'view view-fleet';
    el.innerHTML = `
      <h1>Fleet</h1>
      <div class="cards" data-part="cards"></div>
      <h2>Sites</h2><div data-part="sites"></div>
      <h2>Node groups</h2><div data-part="groups"></div>
      <h2>GPUs</h2><div data-part="legend"></div><div data-part="grids" data-testid="fleet-grid"></div>`;
    const part = (name) => el.querySelector(`[data-part="${name}"]`);

    async function refresh() {
      const [dev, nod, sit, lea, money] = await Promise.all([
        api('/v1/devices'), api('/v1/nodes'), api('/v1/sites'), api('/v1/leases?state=running'),
        api('/v1/reports/money?bucket=hour').catch(() => null),
      ]);
      const devices = dev.devices;
      const nodes = nod.nodes;
      const coins = coinList(devices);
      const groups = groupsOf(devices, nodes);
      setHtml(part('cards'), cards(devices, nodes, lea.leases, money ? money.now : null));
      setHtml(part('sites'), sitesTable(sit.sites));
      setHtml(part('groups'), groupsTable(groups));
      setHtml(part('legend'), legend(coins));
      setHtml(part('grids'), grids(groups, nodes, coins));
    }
    return { el, refresh };
  },
};

