// Revenue and cost per day "now", from a money report (GET /v1/reports/money?bucket=hour). The
// server's own rates win when it sends them (report.now, per day); otherwise the rate is
// estimated from the last full hour, and is null until there is one.

const FIELDS = ['ai_usage_usd', 'mining_revenue_usd', 'energy_cost_usd', 'net_usd'];

function valueOf(point, field) {
  const micro = point[field.replace(/_usd$/, '_micro_usd')];
  return typeof micro === 'number' ? micro / 1e6 : point[field] || 0;
}

function scaled(point, factor) {
  const out = {};
  for (const f of FIELDS) out[f] = valueOf(point, f) * factor;
  return out;
}

export function ratesPerDay(report, nowMs = Date.now()) {
  if (report.now) {
    const out = {};
    for (const f of FIELDS) out[f] = report.now[f + '_per_day'] ?? report.now[f] ?? null;
    return Object.assign(out, { basis: 'at the current plan', estimated: false });
  }
  const points = report.points || [];
  const bucket = report.bucket_s || 3600;
  const nowS = nowMs / 1000;
  // A full bucket preceded by one with money in it was covered for all of its length.
  for (let i = points.length - 1; i >= 1; i--) {
    const p = points[i];
    if (p.t_s + bucket > nowS) continue;
    const prev = points[i - 1];
    if (valueOf(prev, 'mining_revenue_usd') > 0 || valueOf(prev, 'ai_usage_usd') > 0) {
      return Object.assign(scaled(p, 86400 / bucket), { basis: 'last full hour', estimated: true });
    }
    break;
  }
  return null; // no full hour yet: a partial one would understate the rate
}
