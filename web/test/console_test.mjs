// End-to-end test of the web console: starts `rigshift server --demo`, drives the console in
// Chromium as a tenant and as the operator, and checks what each sees as a lease is created,
// billed and cancelled. Optionally saves a full-page screenshot of every main view.
//
//   node web/test/console_test.mjs --bin build/release/src/cli/rigshift --data data \
//        --farm examples/demo-farm.toml --work /tmp/console-test [--screenshots DIR]
//
// Exits 0 when every check passes; otherwise prints "console: FAIL <what>" and exits 1.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const STEP_TIMEOUT_MS = 15000;
const POLL_MS = 250;
const t0 = Date.now();

// --- Arguments ---

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i++) {
    const m = argv[i].match(/^--([a-z-]+)$/);
    if (!m || i + 1 >= argv.length) throw new Error(`usage: unexpected argument ${argv[i]}`);
    args[m[1]] = argv[++i];
  }
  for (const need of ['bin', 'data', 'farm', 'work']) {
    if (!args[need]) throw new Error(`usage: --${need} is required (--bin BIN --data DIR --farm FILE --work DIR [--screenshots DIR])`);
  }
  return args;
}

// --- Output ---

function elapsed() {
  return ((Date.now() - t0) / 1000).toFixed(1) + ' s';
}

function ok(message) {
  console.log(`console: ok    ${message}  [${elapsed()}]`);
}

function info(message) {
  console.log(`console: ...   ${message}  [${elapsed()}]`);
}

class CheckFailed extends Error {}

function fail(message) {
  throw new CheckFailed(message);
}

// Polls `probe` until it returns a truthy value; fails with `what` (and the last value seen).
async function waitFor(what, probe, timeoutMs = STEP_TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await probe();
      if (last && last.ok !== false) return last;
    } catch (e) {
      last = e.message;
    }
    if (Date.now() > deadline) {
      fail(`${what} (waited ${(timeoutMs / 1000).toFixed(0)} s; last seen: ${JSON.stringify(last && last.seen !== undefined ? last.seen : last)})`);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

// --- The server ---

function startServer(args, srvDir) {
  fs.rmSync(srvDir, { recursive: true, force: true });
  const log = fs.openSync(path.join(args.work, 'server.log'), 'w');
  const child = spawn(args.bin, [
    'server', '--demo', '--farm', args.farm, '--data', args.data, '--data-dir', srvDir,
    '--listen', '127.0.0.1:0', '--billing-interval', '1', '--accounting-interval', '2', '--tick-interval', '1',
    // The plan view offers the scenarios beside the farm file (examples/: scenario.toml).
    '--scenarios', path.dirname(path.resolve(args.farm)),
  ], { stdio: ['ignore', log, log] });
  child.exited = new Promise((resolve) => child.on('exit', resolve));
  child.on('error', (e) => { child.spawnError = e; });
  process.on('exit', () => { if (child.exitCode === null) child.kill('SIGKILL'); });
  return child;
}

async function stopServer(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await child.exited;
  clearTimeout(timer);
}

async function waitForServer(child, srvDir) {
  const urlFile = path.join(srvDir, 'server.url');
  const url = await waitFor('the server writes its URL to ' + urlFile, () => {
    if (child.spawnError) fail('could not start the server: ' + child.spawnError.message);
    if (child.exitCode !== null) fail(`the server exited with code ${child.exitCode} before listening`);
    return fs.existsSync(urlFile) && fs.readFileSync(urlFile, 'utf8').trim();
  }, 30000);
  const read = (name) => fs.readFileSync(path.join(srvDir, name), 'utf8').trim();
  return { url: url.replace(/\/$/, ''), operator: read('operator.token'), tenant: read('tenant-demo.token') };
}

// The REST API from here, to read what the page should show and to set up the pending queue.
async function rest(server, token, method, route, body) {
  const response = await fetch(server.url + route, {
    method,
    headers: { Authorization: 'Bearer ' + token, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  if (!response.ok) fail(`${method} ${route} answered ${response.status}: ${text}`);
  return text ? JSON.parse(text) : null;
}

// --- The browser ---

const BROWSER_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--disable-quic', '--disable-dev-shm-usage'];

// Every console error and uncaught exception of every page, but the HTTP errors a step expects
// (a refused token is a 401 on /v1/whoami, and Chromium logs it as a console error).
const pageErrors = [];
const expectedHttpErrors = [];

function watchPage(page, who) {
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const where = m.location() && m.location().url ? m.location().url : '';
    if (m.text().startsWith('Failed to load resource') && expectedHttpErrors.some((re) => re.test(where))) return;
    pageErrors.push(`${who}: console error: ${m.text()}${where ? ' (' + where + ')' : ''}`);
  });
  page.on('pageerror', (e) => pageErrors.push(`${who}: uncaught: ${e.message}`));
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
}

async function newPage(browser, who) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  watchPage(page, who);
  return page;
}

const byTestId = (page, id) => page.locator(`[data-testid="${id}"]`);

async function numberIn(page, id) {
  const v = await byTestId(page, id).first().getAttribute('data-value', { timeout: 2000 });
  return v === null || v === '' ? NaN : Number(v);
}

let screenshotDir = null;
async function shot(page, name) {
  if (!screenshotDir) return;
  await page.waitForTimeout(300); // let uPlot draw after the last poll
  await page.screenshot({ path: path.join(screenshotDir, name), fullPage: true });
  info('saved ' + name);
}

async function openView(page, hash, readyTestId) {
  await page.evaluate((h) => { location.hash = h; }, hash);
  await byTestId(page, readyTestId).first().waitFor({ state: 'visible' });
}

// --- The checks ---

async function checkBadToken(page, server) {
  await page.goto(server.url + '/');
  await byTestId(page, 'login-form').waitFor();
  await shot(page, '01-login.png');
  expectedHttpErrors.push(/\/v1\/whoami$/);
  await byTestId(page, 'login-token').fill('not-a-real-token');
  await byTestId(page, 'login-submit').click();
  const error = byTestId(page, 'login-error');
  await waitFor('a refused token shows "token refused: ..." on the login form',
    async () => ({ seen: await error.textContent(), ok: (await error.isVisible()) && /token refused: /.test(await error.textContent()) }));
  if (!(await byTestId(page, 'login-form').isVisible())) fail('after a refused token the login form is gone');
  if (await byTestId(page, 'nav').isVisible()) fail('after a refused token the nav bar shows');
  expectedHttpErrors.pop();
  ok(`a bad token is refused: "${(await error.textContent()).trim()}"`);
}

async function loginWithForm(page, token, role) {
  await byTestId(page, 'login-token').fill(token);
  await byTestId(page, 'login-submit').click();
  await waitFor(`the ${role} is logged in (nav bar and "${role}" shown)`,
    async () => ({ seen: await byTestId(page, 'who').textContent(), ok: (await byTestId(page, 'who').textContent()).includes(role) }));
}

// The operator logs in through #token=..., which the page must drop from the address bar.
async function operatorLogin(page, server) {
  await page.goto(`${server.url}/#token=${encodeURIComponent(server.operator)}`);
  await byTestId(page, 'nav-fleet').waitFor();
  if (page.url().includes('token=')) fail('the token stays in the URL after logging in with #token=: ' + page.url());
  await byTestId(page, 'gpu-gpu-3090-1-0').waitFor();
  ok('operator logged in with #token= (dropped from the URL), fleet view shown');
}

async function useOf(page, device) {
  return byTestId(page, `gpu-${device.node}-${device.slot}`).getAttribute('data-use', { timeout: 2000 });
}

async function waitForAllMining(page) {
  await waitFor('every RTX 3090 is mining in the fleet view before any lease', async () => {
    const uses = await page.locator('[data-testid^="gpu-gpu-3090-"]').evaluateAll((els) => els.map((e) => e.dataset.use));
    return { seen: [...new Set(uses)], ok: uses.length >= 4 && uses.every((u) => u === 'mining') };
  }, 30000);
  ok('every RTX 3090 shows as mining');
}

async function tenantFiltersOffers(page) {
  await byTestId(page, 'offers-table').waitFor();
  const before = await page.locator('tr[data-model]').count();
  await byTestId(page, 'offers-filter-model').selectOption('RTX 3090');
  await byTestId(page, 'offers-filter-price').fill('0.5');
  const models = await page.locator('tr[data-model]').evaluateAll((rows) => rows.map((r) => r.dataset.model));
  if (models.length !== 1 || models[0] !== 'RTX 3090') fail(`filtering offers by RTX 3090 under $0.5 shows ${JSON.stringify(models)}`);
  await byTestId(page, 'offers-filter-model').selectOption('');
  await byTestId(page, 'offers-filter-price').fill('');
  await byTestId(page, 'offers-filter-interconnect').selectOption('nvlink');
  const nvlink = await page.locator('tr[data-model]').evaluateAll((rows) => rows.map((r) => r.dataset.model));
  if (!nvlink.length || nvlink.some((m) => m === 'RTX 3090')) fail(`the NVLink filter shows ${JSON.stringify(nvlink)}`);
  await byTestId(page, 'offers-filter-interconnect').selectOption('any');
  const after = await page.locator('tr[data-model]').count();
  if (after !== before) fail(`clearing the offer filters shows ${after} offers, not ${before}`);
  ok(`offers filter: ${before} offers, 1 for RTX 3090 under $0.50, ${nvlink.length} with NVLink`);
  await shot(page, '02-offers.png');
}

async function tenantCreatesLease(page, server) {
  await byTestId(page, 'offer-rent-gpu-3090').click();
  await byTestId(page, 'new-form').waitFor();
  await waitFor('the Rent button fills the model in the new-lease form',
    async () => ({ seen: await byTestId(page, 'new-model').inputValue(), ok: (await byTestId(page, 'new-model').inputValue()) === 'RTX 3090' }));
  await byTestId(page, 'new-gpus').fill('4');
  await byTestId(page, 'new-hours').fill('2');
  await byTestId(page, 'new-quote').click(); // blur, so the quote updates
  await shot(page, '03-new-lease.png');
  await byTestId(page, 'new-submit').click();
  const error = byTestId(page, 'new-error');
  await waitFor('creating the lease opens My leases', async () => {
    if (await error.isVisible()) fail('the server refused the lease: ' + (await error.textContent()));
    return /#\/mine\?created=\d+/.test(page.url());
  });
  const id = Number(page.url().match(/created=(\d+)/)[1]);
  const created = Date.now();
  await waitFor(`lease ${id} shows as running with 4 devices in My leases`, async () => {
    const state = await byTestId(page, `lease-state-${id}`).getAttribute('data-state', { timeout: 2000 });
    const count = await byTestId(page, `lease-devices-${id}`).getAttribute('data-count', { timeout: 2000 }).catch(() => null);
    return { seen: { state, count }, ok: state === 'running' && count === '4' };
  });
  ok(`tenant created lease ${id} through the form: running on 4 GPUs`);
  const cost = await waitFor(`lease ${id}'s cost so far becomes > 0 in My leases`, async () => {
    const v = await numberIn(page, `lease-cost-${id}`);
    return { seen: v, ok: v > 0, v };
  }, 12000);
  ok(`tenant lease billed ${cost.v.toFixed(4)} USD after ${((Date.now() - created) / 1000).toFixed(1)} s`);
  await shot(page, '04-my-leases.png');
  const lease = await rest(server, server.tenant, 'GET', `/v1/leases/${id}`);
  if (lease.devices.length !== 4) fail(`GET /v1/leases/${id} has ${lease.devices.length} devices`);
  return lease;
}

async function operatorSeesLease(page, lease) {
  await waitFor(`the fleet view shows lease ${lease.id}'s 4 GPUs as lease`, async () => {
    const uses = await Promise.all(lease.devices.map((d) => useOf(page, d)));
    return { seen: uses, ok: uses.every((u) => u === 'lease') };
  }, 12000);
  const where = lease.devices.map((d) => `${d.node}/${d.slot}`).join(' ');
  ok(`operator fleet: ${where} went from mining to lease`);
  const leased = await numberIn(page, 'fleet-lease');
  if (leased !== 4) fail(`the "GPUs leased" card shows ${leased}, not 4`);
  await shot(page, '05-fleet.png');
}

async function operatorNodePage(page, lease) {
  const node = lease.devices[0].node;
  await byTestId(page, `node-link-${node}`).click();
  await byTestId(page, 'node-devices').waitFor();
  // The demo's simulated agents report power only: the power chart is the one that must draw.
  await waitFor(`node page ${node} lists its GPUs and draws its power chart`, async () => {
    const rows = await page.locator('[data-testid^="node-device-"]').count();
    const canvases = await page.locator('[data-testid="node-chart-power_w"] canvas').count();
    return { seen: { rows, canvases }, ok: rows > 0 && canvases === 1 };
  });
  ok(`node page ${node}: GPU table and power chart`);
  await shot(page, '06-node.png');
}

async function operatorMoneyMoves(page) {
  await openView(page, '#/money', 'money-ai-total');
  const first = await waitFor('the money view shows AI revenue > 0', async () => {
    const v = await numberIn(page, 'money-ai-total');
    return { seen: v, ok: v > 0, v };
  });
  const second = await waitFor('the AI revenue total grows between two polls', async () => {
    const v = await numberIn(page, 'money-ai-total');
    return { seen: v, ok: v > first.v, v };
  }, 12000);
  if (await page.locator('[data-testid="money-chart"] canvas').count() < 1) fail('the money view has no chart');
  ok(`money view moves: AI revenue ${first.v.toFixed(4)} -> ${second.v.toFixed(4)} USD`);
  await shot(page, '07-money.png');
}

async function operatorPowerAndMarket(page) {
  await openView(page, '#/power', 'power-charts');
  await waitFor('the power view draws a chart per site', async () => (await page.locator('[data-testid="power-charts"] canvas').count()) > 0);
  const headroom = await page.locator('[data-testid^="power-headroom-"]').first().textContent();
  ok(`power view: ${headroom}`);
  await shot(page, '08-power.png');
  await openView(page, '#/market', 'market-coins');
  ok('market view: coins, prices and electricity');
  await shot(page, '09-market.png');
}

// 32 A100s rented, then 8 more asked: the second request must wait, with its reason shown.
async function operatorSeesPendingQueue(page, server) {
  const all = await rest(server, server.tenant, 'POST', '/v1/leases', { gpus: 32, models: ['A100'], hours: 1 });
  const more = await rest(server, server.tenant, 'POST', '/v1/leases', { gpus: 8, models: ['A100'], interconnect: 'nvlink', hours: 1 });
  if (more.state !== 'pending') fail(`8 more A100s after all 32 are rented is ${more.state}, not pending`);
  await openView(page, '#/leases', 'leases-pending');
  const reason = await waitFor(`the leases view shows request ${more.id} waiting, with why`, async () => {
    const text = (await byTestId(page, `lease-reason-${more.id}`).textContent({ timeout: 2000 })).trim();
    return { seen: text, ok: text.length > 0, text };
  });
  ok(`leases view: request ${more.id} waits: "${reason.text}"`);
  await shot(page, '10-leases.png');
  return [all.id, more.id];
}

async function operatorAlerts(page) {
  await openView(page, '#/alerts', 'alerts-unacked');
  const open = await numberIn(page, 'alerts-open');
  ok(`alerts view: ${open} to acknowledge`);
  await shot(page, '11-alerts.png');
}

async function operatorRunsPlan(page) {
  await openView(page, '#/plan', 'plan-form');
  const select = byTestId(page, 'plan-scenario');
  await waitFor('the plan view lists the server\'s scenarios', async () => (await select.locator('option[value="scenario.toml"]').count()) > 0);
  await select.selectOption('scenario.toml');
  await byTestId(page, 'plan-days').fill('3');
  const started = Date.now();
  await byTestId(page, 'plan-run').click();
  const status = byTestId(page, 'plan-status');
  await waitFor('a 3-day plan of scenario.toml shows its report', async () => {
    const text = await status.textContent();
    if (/plan failed/.test(text)) fail(text);
    return { seen: text, ok: await byTestId(page, 'plan-report').isVisible() };
  }, 60000);
  const frame = page.frameLocator('[data-testid="plan-report"]');
  await frame.locator('body').waitFor();
  ok(`plan: 3 days of scenario.toml reported in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  await shot(page, '12-plan.png');
}

async function tenantCancels(tenantPage, operatorPage, lease) {
  await openView(tenantPage, '#/mine', `lease-cancel-${lease.id}`);
  await byTestId(tenantPage, `lease-cancel-${lease.id}`).click();
  await byTestId(tenantPage, `lease-cancel-${lease.id}`).click(); // "Confirm cancel"
  const started = Date.now();
  await waitFor(`lease ${lease.id} shows as cancelled in My leases`, async () => {
    const state = await byTestId(tenantPage, `lease-state-${lease.id}`).getAttribute('data-state', { timeout: 2000 });
    return { seen: state, ok: state === 'cancelled' };
  });
  ok(`tenant cancelled lease ${lease.id} from My leases`);
  await openView(operatorPage, '#/fleet', 'fleet-grid');
  await waitFor(`the fleet view shows lease ${lease.id}'s GPUs back to mining`, async () => {
    const uses = await Promise.all(lease.devices.map((d) => useOf(operatorPage, d)));
    return { seen: uses, ok: uses.every((u) => u === 'mining') };
  }, 15000);
  ok(`operator fleet: the 4 GPUs mine again within ${((Date.now() - started) / 1000).toFixed(1)} s of the cancel`);
}

async function tenantLogsOut(page) {
  await byTestId(page, 'logout').click();
  await byTestId(page, 'login-form').waitFor();
  const kept = await page.evaluate(() => sessionStorage.getItem('rigshift.token'));
  if (kept) fail('Log out leaves the token in sessionStorage');
  ok('Log out returns to the login form and forgets the token');
}

// --- Main ---

async function main() {
  const args = parseArgs(process.argv.slice(2));
  fs.mkdirSync(args.work, { recursive: true });
  if (args.screenshots) {
    screenshotDir = path.resolve(args.screenshots);
    fs.mkdirSync(screenshotDir, { recursive: true });
    fs.rmSync(path.join(screenshotDir, 'failure.png'), { force: true });
  }
  const srvDir = path.join(args.work, 'srv');
  let child = null;
  let browser = null;
  let current = null; // the page to screenshot on failure
  try {
    child = startServer(args, srvDir);
    const server = await waitForServer(child, srvDir);
    info(`server at ${server.url}`);
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: BROWSER_ARGS });

    const tenant = await newPage(browser, 'tenant');
    current = tenant;
    await checkBadToken(tenant, server);

    const operator = await newPage(browser, 'operator');
    current = operator;
    await operatorLogin(operator, server);
    await waitForAllMining(operator);

    current = tenant;
    await loginWithForm(tenant, server.tenant, 'tenant demo');
    await tenantFiltersOffers(tenant);
    const lease = await tenantCreatesLease(tenant, server);

    current = operator;
    await operatorSeesLease(operator, lease);
    await operatorNodePage(operator, lease);
    await operatorMoneyMoves(operator);
    await operatorPowerAndMarket(operator);
    const a100 = await operatorSeesPendingQueue(operator, server);
    await operatorAlerts(operator);
    await operatorRunsPlan(operator);
    for (const id of a100.reverse()) await rest(server, server.tenant, 'DELETE', `/v1/leases/${id}`);

    current = tenant;
    await tenantCancels(tenant, operator, lease);
    await tenantLogsOut(tenant);

    if (pageErrors.length) fail('the pages logged errors:\n  ' + pageErrors.join('\n  '));
    ok('no console error, uncaught exception or CSP violation in any page');
    console.log(`console: PASS in ${elapsed()}`);
  } catch (e) {
    console.log(`console: FAIL  ${e instanceof CheckFailed ? e.message : e.stack || e.message}`);
    if (pageErrors.length && !(e.message || '').includes('pages logged errors')) {
      console.log('console: the pages also logged:\n  ' + pageErrors.join('\n  '));
    }
    if (current) {
      const file = path.join(screenshotDir || args.work, 'failure.png');
      await current.screenshot({ path: file, fullPage: true }).then(() => console.log('console: page at failure: ' + file), () => {});
    }
    const log = path.join(args.work, 'server.log');
    if (fs.existsSync(log)) {
      const tail = fs.readFileSync(log, 'utf8').split('\n').slice(-15).join('\n');
      console.log(`console: last lines of ${log}:\n${tail}`);
    }
    process.exitCode = 1;
  } finally {
    if (browser) await browser.close().catch(() => {});
    await stopServer(child);
  }
}

main();
