// Revenue and cost per day "now", as the server computes them (GET /v1/reports/money: `now`,
// the running leases at their prices and each GPU's mining revenue and energy at its use now).

const FIELDS = ['ai_usage_usd', 'mining_revenue_usd', 'energy_cost_usd', 'net_usd'];

export function ratesPerDay(report) {
  if (!report.now) return null;
  const out = {};
  for (const f of FIELDS) out[f] = report.now[f + '_per_day'];
  return Object.assign(out, { basis: 'at the current plan', estimated: false });
}
