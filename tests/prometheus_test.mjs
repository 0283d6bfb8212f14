// Debian's Prometheus scrapes a real `rigshift server --demo` with the scrape config we ship
// (packaging/prometheus/rigshift.yml), and every query of the Grafana dashboard we ship
// (packaging/grafana/rigshift-dashboard.json) is accepted by it; the GPU counts come back.
//
//   node tests/prometheus_test.mjs BIN SHARED_DATA
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const [bin, shared] = process.argv.slice(2);
const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rigshift-prometheus-'));
const children = [];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function fail(message) {
  console.error('prometheus_test: FAIL ' + message);
  for (const f of ['server.log', 'prometheus.log']) {
    const p = path.join(work, f);
    if (fs.existsSync(p)) console.error(`--- ${f}\n` + fs.readFileSync(p, 'utf8').slice(-3000));
  }
  process.exitCode = 1;
  throw new Error(message);
}

function start(cmd, args, log) {
  const out = fs.openSync(path.join(work, log), 'w');
  const child = spawn(cmd, args, { stdio: ['ignore', out, out] });
  children.push(child);
  return child;
}

async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

async function until(what, probe, ms = 30000) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch {}
    if (Date.now() > deadline) fail('timed out waiting for ' + what);
    await sleep(200);
  }
}

async function query(base, expr) {
  const r = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(expr)}`);
  return r.json();
}

try {
  execFileSync(bin, ['data', 'import', '--source', shared, '--out', path.join(work, 'data')], { stdio: 'ignore' });
  start(bin, ['server', '--demo', '--farm', path.join(repo, 'examples/demo-farm.toml'), '--data', path.join(work, 'data'),
    '--data-dir', path.join(work, 'srv'), '--listen', '127.0.0.1:0'], 'server.log');
  const urlFile = path.join(work, 'srv', 'server.url');
  const server = await until('the server', () => fs.existsSync(urlFile) && fs.readFileSync(urlFile, 'utf8').trim());
  const metrics = await (await fetch(server + '/metrics')).text();

  // The shipped scrape config, pointed at this server, scraping every second.
  const shipped = fs.readFileSync(path.join(repo, 'packaging/prometheus/rigshift.yml'), 'utf8');
  if (!shipped.includes('"127.0.0.1:8080"') || !shipped.includes('scrape_interval: 15s')) fail('rigshift.yml changed shape');
  const config = shipped.replace('"127.0.0.1:8080"', JSON.stringify(new URL(server).host))
    .replace('scrape_interval: 15s', 'scrape_interval: 1s');
  fs.writeFileSync(path.join(work, 'prometheus.yml'), config);
  const port = await freePort();
  start('prometheus', ['--config.file', path.join(work, 'prometheus.yml'), '--storage.tsdb.path', path.join(work, 'tsdb'),
    '--web.listen-address', `127.0.0.1:${port}`], 'prometheus.log');
  const prom = `http://127.0.0.1:${port}`;
  await until('Prometheus to scrape rigshift', async () => {
    const j = await query(prom, 'up{job="rigshift"}');
    return j.status === 'success' && j.data.result.length === 1 && j.data.result[0].value[1] === '1';
  });
  console.log('prometheus_test: ok    Prometheus scrapes ' + server);

  // A series comes back with the server's own number.
  const mining = await until('rigshift_devices', async () => {
    const j = await query(prom, 'sum(rigshift_devices{use="mining"})');
    return j.status === 'success' && j.data.result.length === 1 && Number(j.data.result[0].value[1]);
  });
  if (!(mining > 0)) fail('no mining GPUs in Prometheus: ' + mining);
  console.log(`prometheus_test: ok    sum(rigshift_devices{use="mining"}) = ${mining}`);

  // Every query of the dashboard: its metrics exist, and Prometheus accepts it.
  const dash = JSON.parse(fs.readFileSync(path.join(repo, 'packaging/grafana/rigshift-dashboard.json'), 'utf8'));
  let n = 0;
  for (const panel of dash.panels) {
    for (const t of panel.targets) {
      for (const name of t.expr.match(/rigshift_[a-z_]+/g) || []) {
        const metric = name.replace(/_bucket$/, '');
        if (!metrics.includes('# TYPE ' + metric + ' ')) fail(`panel "${panel.title}": no metric ${metric} in /metrics`);
      }
      const j = await query(prom, t.expr);
      if (j.status !== 'success') fail(`panel "${panel.title}": ${t.expr}: ${j.error}`);
      n++;
    }
  }
  console.log(`prometheus_test: ok    the dashboard's ${n} queries over ${dash.panels.length} panels`);
  console.log('prometheus_test: PASS');
} catch (e) {
  if (!process.exitCode) {
    console.error('prometheus_test: FAIL ' + e.message);
    process.exitCode = 1;
  }
} finally {
  for (const c of children) c.kill('SIGTERM');
  await sleep(300);
  fs.rmSync(work, { recursive: true, force: true });
}
