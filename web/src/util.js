// Small helpers every view shares: HTML escaping, number and time formatting, and the bits of
// markup (cards, tables) the views are made of. Every string from the server goes through esc().

export function esc(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  })[c]);
}

// A money amount from an object that carries NAME_micro_usd and/or NAME_usd (prefer the exact one).
export function usd(obj, name) {
  if (!obj) return null;
  const micro = obj[name + '_micro_usd'];
  if (typeof micro === 'number') return micro / 1e6;
  const plain = obj[name + '_usd'];
  return typeof plain === 'number' ? plain : null;
}

export function fmtUsd(value, digits) {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  const abs = Math.abs(value);
  const d = digits ?? (abs === 0 ? 2 : abs < 1 ? 4 : abs < 1000 ? 2 : 0);
  const sign = value < 0 ? '-' : '';
  return sign + '$' + abs.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

export function fmtNum(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  return Number(value).toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function fmtKw(watts, digits = 1) {
  return watts === null || watts === undefined ? '–' : fmtNum(watts / 1000, digits) + ' kW';
}

export function fmtPct(value, digits = 0) {
  return value === null || value === undefined ? '–' : fmtNum(value, digits) + ' %';
}

// Hashes per second with a unit (MH/s for a GPU, GH/s for a fleet).
export function fmtHashrate(hs) {
  if (hs === null || hs === undefined) return '–';
  const units = [['TH/s', 1e12], ['GH/s', 1e9], ['MH/s', 1e6], ['kH/s', 1e3]];
  for (const [unit, scale] of units) if (hs >= scale) return fmtNum(hs / scale, 1) + ' ' + unit;
  return fmtNum(hs) + ' H/s';
}

export function pad2(n) {
  return String(n).padStart(2, '0');
}

export function clock(date = new Date()) {
  return `${pad2(date.getHours())}:${pad2(date.getMinutes())}:${pad2(date.getSeconds())}`;
}

// An RFC 3339 UTC time as the server writes it, shown as "2026-11-21 10:00:00Z".
export function fmtTime(iso) {
  if (!iso) return '–';
  return String(iso).replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return '–';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return s + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
  if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
  return Math.floor(s / 86400) + ' d ' + Math.floor((s % 86400) / 3600) + ' h';
}

export function secondsSince(iso, now = Date.now()) {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : (now - t) / 1000;
}

// One card of the key-number strip: a label, a big value, an optional line under it. `testid`
// and `value` (a raw number) let a test read the card without parsing the formatted text.
export function card({ label, value, sub = '', testid = '', raw = null, tone = '' }) {
  const tid = testid ? ` data-testid="${esc(testid)}"` : '';
  const rawAttr = raw === null || raw === undefined ? '' : ` data-value="${esc(raw)}"`;
  return `<div class="card ${esc(tone)}"><div class="card-label">${esc(label)}</div>` +
    `<div class="card-value"${tid}${rawAttr}>${esc(value)}</div>` +
    (sub ? `<div class="card-sub">${esc(sub)}</div>` : '') + '</div>';
}

// A table from column specs [{label, num?}] and rows of already-escaped cell HTML.
export function table(columns, rows, { testid = '', empty = 'nothing to show', cls = '' } = {}) {
  const tid = testid ? ` data-testid="${esc(testid)}"` : '';
  const head = columns.map((c) => `<th${c.num ? ' class="num"' : ''}>${esc(c.label)}</th>`).join('');
  const body = rows.length
    ? rows.map((r) => '<tr' + (r.attrs || '') + '>' + r.cells.map((cell, i) =>
      `<td${columns[i] && columns[i].num ? ' class="num"' : ''}>${cell}</td>`).join('') + '</tr>').join('')
    : `<tr><td class="empty" colspan="${columns.length}">${esc(empty)}</td></tr>`;
  return `<table class="${esc(cls)}"${tid}><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

export function row(cells, attrs = '') {
  return { cells, attrs };
}

export function badge(text, tone = text) {
  return `<span class="badge badge-${esc(tone)}">${esc(text)}</span>`;
}

// Replaces an element's HTML only when it changed, so a poll that brings nothing new leaves
// focus, selection and hover alone.
export function setHtml(el, html) {
  if (el && el.__html !== html) {
    el.innerHTML = html;
    el.__html = html;
  }
}

