#!/usr/bin/env node
// rigshift beside plain Slurm on the same job stream, in one run (issue 11, item 5):
//   1. rigshift with its own agents: `rigshift server` and 32 `rigshift agent` processes with 8 fake
//      RTX 3090s each, mining (rigshift-fake-miner) whatever no lease uses;
//   2. rigshift on Slurm: the same farm as a `backend = "slurm"` site on a private 32 x 8 Slurm
//      cluster (tests/slurm_cluster.sh);
//   3. plain Slurm: ../shared/tools/slurm-peer/run.sh (its own 32 x 8 cluster).
// Each rigshift run measures what slurm-peer measures, the same way (README of slurm-peer):
// - idle submit-to-running: 20 single-GPU leases, each after a seeded pause in [0, 4 s) (slurm-peer's
//   LCG), from the harness clock just before POST /v1/leases to the first line of the lease's
//   process ($EPOCHREALTIME). rigshift's "idle" farm mines: the GPU is taken from a miner.
// - preemption: 5 leases of 8 GPUs on a farm where every GPU mines, submit to the process running.
// - the stream: `run.sh --stream-only` (2000 jobs of 1-8 GPUs, 0.2 s each), every job a lease whose
//   workload stamps its start, sleeps runtime_s and stamps its end; makespan from the first POST to
//   the last end; jobs/s; the controller's CPU (utime+stime of the server process, plus slurmctld's
//   in the Slurm run) per job; GPU overlaps from the stamps and the leases' devices (must be 0).
// Prints one JSON object with the three runs; progress on stderr. Needs root (Slurm runs jobs as
// root), a Release build, the imported data (make demo or rigshift data import) and ~10 min.
//
//   node bench/slurm_side_by_side.mjs [--jobs N] [--skip-peer] [--only agents|slurm|peer]
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import net from 'node:net';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const BIN = path.join(ROOT, 'build/release/src/cli/rigshift');
const MINER = path.join(ROOT, 'build/release/src/agent/rigshift-fake-miner');
const PEER = path.resolve(ROOT, '../shared/tools/slurm-peer/run.sh');
const CLUSTER = path.join(ROOT, 'tests/slurm_cluster.sh');
const SAMPLE = path.resolve(ROOT, '../shared/data/device_samples/trex/trex-0.6.3_summary_8gpu-gtx1070ti_x16r.json');
const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
const JOBS = Number(opt('--jobs', '2000'));
const ONLY = opt('--only', '');
const SEED = 42, NODES = 32, GPUS = 8, PROBES = 20, REPS = 5, GAP_MAX_MS = 4000;
const log = (...a) => console.error('[side-by-side]', ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

for (const f of [BIN, MINER]) if (!fs.existsSync(f)) { log(`missing ${f}: make build first`); process.exit(2); }
if (!fs.existsSync(path.join(ROOT, 'data/import_report.json'))) { log('no data/: run rigshift data import first'); process.exit(2); }

// slurm-peer's pauses: x = (seed*2654435761 + 1013904223) mod 2^31, then the stream's LCG.
let gapx = (BigInt(SEED) * 2654435761n + 1013904223n) % 2147483648n;
function nextPauseMs() {
  gapx = (1103515245n * gapx + 12345n) % 2147483648n;
  return Number(((gapx >> 16n) * BigInt(GAP_MAX_MS)) / 32768n);
}

function pct(values, p) {
  if (!values.length) return null;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
}
function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
function freePort() {
  return new Promise((resolve) => { const s = net.createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); }); });
}
async function freeRange(n) {
  for (let t = 0; t < 100; t++) {
    const base = 20000 + Math.floor(Math.random() * 30000);
    let ok = true;
    for (let i = 0; i < n && ok; i++) ok = await new Promise((r) => { const s = net.createServer(); s.once('error', () => r(false)); s.listen(base + i, '127.0.0.1', () => s.close(() => r(true))); });
    if (ok) return base;
  }
  throw new Error('no free port range');
}
// Every process of a run: those whose command line names the run's folder (agents, the shims an
// agent leaves running its miners and workloads, on purpose, for the next agent to adopt), and
// their descendants. SIGKILLed at the end of a run, so that nothing of it loads the next one.
function killRun(dir) {
  const procs = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${e}/cmdline`, 'utf8');
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      procs.push({ pid: Number(e), ppid, cmd });
    } catch { /* gone */ }
  }
  const doomed = new Set(procs.filter((p) => p.cmd.includes(dir) && p.pid !== process.pid).map((p) => p.pid));
  for (let grew = true; grew;) {
    grew = false;
    for (const p of procs) if (!doomed.has(p.pid) && doomed.has(p.ppid)) { doomed.add(p.pid); grew = true; }
  }
  for (const pid of doomed) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  return doomed.size;
}
function cpuSeconds(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;  // utime + stime, clock ticks of 1/100 s
}

function stream() {
  const csv = execFileSync(PEER, ['--stream-only', '--jobs', String(JOBS), '--seed', String(SEED)], { encoding: 'utf8' });
  return csv.split('\n').filter((l) => /^\d/.test(l)).map((l) => { const [id, , , gpus, rt] = l.split(','); return { id: Number(id), gpus: Number(gpus), runtime: Number(rt) }; });
}

class Server {
  constructor(dir, farm, port) { this.dir = dir; this.farm = farm; this.port = port; this.base = `http://127.0.0.1:${port}`; }
  async start() {
    fs.mkdirSync(this.dir, { recursive: true });
    const out = fs.openSync(path.join(this.dir, 'server.log'), 'a');
    this.proc = spawn(BIN, ['server', '--farm', this.farm, '--data', path.join(ROOT, 'data'), '--data-dir', this.dir,
      '--listen', `127.0.0.1:${this.port}`, '--tenant', 'bench', '--trusted-tenant', 'bench', '--agent-timeout', '10',
      '--max-pending', '100000', '--max-pending-per-tenant', '100000'], { stdio: ['ignore', out, out] });
    for (let i = 0; i < 300; i++) {
      try { if ((await fetch(`${this.base}/healthz`)).status === 200) break; } catch { /* not yet */ }
      await sleep(100);
    }
    this.tenant = fs.readFileSync(path.join(this.dir, 'tenant-bench.token'), 'utf8').trim();
    this.operator = fs.readFileSync(path.join(this.dir, 'operator.token'), 'utf8').trim();
  }
  async call(method, p, body, token) {
    const r = await fetch(this.base + p, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
    const text = await r.text();
    let json = null; try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { status: r.status, json, text };
  }
  async mining() {
    const r = await fetch(`${this.base}/metrics`);
    const m = (await r.text()).match(/^rigshift_devices\{use="mining"\} (\d+)/m);
    return m ? Number(m[1]) : 0;
  }
  stop() { if (this.proc) { this.proc.kill('SIGTERM'); } }
}

function farmFile(dir, slurmConf) {
  const f = path.join(dir, 'farm.toml');
  fs.writeFileSync(f, `[scenario]\nname = "side-by-side"\nseed = 1\n\n[[site]]\nname = "hall"\npower_cap_kw = 500\n` +
    `pue = 1.10\nsettlement_point = "HB_HUBAVG"\nidle_w_per_gpu = 15\n` +
    (slurmConf ? `backend = "slurm"\nslurm_conf = "${slurmConf}"\nslurm_poll_ms = 250\n` : '') +
    `\n[[group]]\nname = "peer"\nmodel = "RTX 3090"\nnodes = ${NODES}\ngpus_per_node = ${GPUS}\npcie_lanes = 16\n` +
    `pcie_gen = 4\ncpu_cores = 64\nram_gb = 512\n\n[market]\nstart = 2021-01-01\ndays = 365\ncoin_from = 2021-01-01\n` +
    `electricity_from = 2024-01-01\nrental_date = 2026-03-01\ninterval_s = 300\n\n[policy]\nmax_wait_on_demand_s = 0\n`);
  return f;
}

// The workload of every measured lease: stamps its start (µs epoch and its GPUs), sleeps, stamps its end.
// The script lives in the run's folder (a workload's arguments are at most 256 characters each, and
// the agent's sandbox shows the root read-only with a private /tmp, so the folder is not under
// /tmp). An agent's workload writes its stamp into its own working folder (the only writable one:
// STATE_DIR/leases/ID); a Slurm job, which runs unsandboxed, into the stamps folder.
let stampMode = 'agents', runDir = '';
function workload(stampDir, name, seconds) {
  const target = stampMode === 'agents' ? 'stamp' : path.join(stampDir, name);
  return { command: ['/bin/bash', path.join(stampDir, 'stamp.sh'), target, String(seconds)] };
}
function stampPath(stampDir, name, lease) {
  if (stampMode !== 'agents') return path.join(stampDir, name);
  const node = lease?.devices?.[0]?.node;
  return node ? path.join(runDir, 'agents', node, 'leases', String(lease.id), 'stamp') : null;
}
function writeStampScript(stampDir) {
  fs.writeFileSync(path.join(stampDir, 'stamp.sh'),
    'f="$1"; echo "$EPOCHREALTIME $CUDA_VISIBLE_DEVICES" > "$f.tmp"; mv "$f.tmp" "$f"; sleep "$2"; echo "$EPOCHREALTIME" >> "$f"\n');
}
function readStamp(stampDir, name, lease) {
  try {
    const lines = fs.readFileSync(stampPath(stampDir, name, lease), 'utf8').trim().split('\n');
    const [start, devs] = lines[0].split(' ');
    return { start: Number(start) * 1000, devices: devs ?? '', end: lines[1] ? Number(lines[1]) * 1000 : null };
  } catch { return null; }
}
async function waitStamp(stampDir, name, lease, timeoutMs, needEnd = false) {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    const s = readStamp(stampDir, name, lease);
    if (s && (!needEnd || s.end)) return s;
    await sleep(5);
  }
  return null;
}
async function waitMining(server, want, timeoutMs) {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) { if ((await server.mining()) >= want) return true; await sleep(200); }
  return false;
}

async function runRigshift(mode) {
  const dir = fs.mkdtempSync(path.join(ROOT, 'build', `side-by-side-${mode}-`));
  stampMode = mode;
  runDir = dir;
  const stamps = path.join(dir, 'stamps'); fs.mkdirSync(stamps);
  writeStampScript(stamps);
  const cleanups = [];
  try {
    let slurmConf = null, ctldPid = null;
    if (mode === 'slurm') {
      const base = await freeRange(NODES + 1);
      const cluster = path.join(dir, 'slurm');
      const out = execFileSync(CLUSTER, ['start', cluster, String(NODES), String(GPUS), String(base), String(base + 1), 'peer-'], { encoding: 'utf8' });
      slurmConf = out.trim().split('\n').pop();
      cleanups.push(() => execFileSync(CLUSTER, ['stop', cluster]));
      ctldPid = Number(fs.readFileSync(path.join(cluster, 'run/slurmctld.pid'), 'utf8'));
    }
    const server = new Server(path.join(dir, 'server'), farmFile(dir, slurmConf), await freePort());
    await server.start();
    cleanups.push(() => server.stop());
    if (mode === 'agents') {
      for (let n = 1; n <= NODES; n++) {
        const name = `peer-${n}`, state = path.join(dir, 'agents', name);
        fs.mkdirSync(state, { recursive: true });
        const t = await server.call('POST', '/v1/tokens', { role: 'agent', node: name }, server.operator);
        const port = await freePort();
        const miner = (coin, algo) => `[[miner]]\ncoin = "${coin}"\nalgorithm = "${algo}"\napi = "trex"\napi_port = ${port}\n` +
          `command = ["${MINER}", "--api-port", "{api_port}", "--sample", "${SAMPLE}"]\n`;
        fs.writeFileSync(path.join(state, 'agent.toml'), `server = "${server.base}"\ntoken = "${t.json.token}"\nnode = "${name}"\n` +
          `state_dir = "${state}"\nfake_devices = "8xRTX 3090 pcie=gen4x16"\nheartbeat_ms = 1000\nminer_grace_ms = 2000\n` +
          `workload_grace_ms = 2000\nminer_warmup_ms = 0\n` + miner('ETH', 'ethash') + miner('ETC', 'etchash'));
        const out = fs.openSync(path.join(state, 'agent.log'), 'a');
        const p = spawn(BIN, ['agent', '--config', path.join(state, 'agent.toml')], { stdio: ['ignore', out, out] });
        cleanups.push(() => p.kill('SIGTERM'));
      }
    }
    if (!await waitMining(server, NODES * GPUS, 120000)) throw new Error(`${mode}: the farm did not start mining all ${NODES * GPUS} GPUs`);
    log(`${mode}: ${NODES * GPUS} GPUs mining`);

    // 1. idle submit-to-running (the farm mines: the GPU is taken from a miner).
    const probes = [];
    for (let i = 0; i < PROBES; i++) {
      await sleep(nextPauseMs());
      const t0 = Date.now();
      const r = await server.call('POST', '/v1/leases', { gpus: 1, workload: workload(stamps, `probe-${i}`, 0.2) }, server.tenant);
      if (r.status !== 201) throw new Error(`probe ${i}: ${r.status} ${r.text}`);
      const s = await waitStamp(stamps, `probe-${i}`, r.json, 30000);
      if (!s) throw new Error(`probe ${i} never ran`);
      probes.push(s.start - t0);
    }
    log(`${mode}: idle probes p50 ${pct(probes, 0.5)} ms`);
    // 2. an 8-GPU lease preempting mining.
    const preempts = [];
    for (let i = 0; i < REPS; i++) {
      await waitMining(server, NODES * GPUS, 60000);
      await sleep(nextPauseMs());
      const t0 = Date.now();
      const r = await server.call('POST', '/v1/leases', { gpus: 8, interconnect: 'node', workload: workload(stamps, `preempt-${i}`, 30) }, server.tenant);
      if (r.status !== 201) throw new Error(`preempt ${i}: ${r.status} ${r.text}`);
      const s = await waitStamp(stamps, `preempt-${i}`, r.json, 60000);
      if (!s) throw new Error(`preempt ${i} never ran`);
      preempts.push((s.start - t0) / 1000);
      await server.call('DELETE', `/v1/leases/${r.json.id}`, null, server.tenant);
    }
    log(`${mode}: preemption median ${median(preempts)} s`);
    await waitMining(server, NODES * GPUS, 60000);

    // 3. the stream, as fast as the API takes it (8 connections).
    const jobs = stream();
    const cpu0 = cpuSeconds(server.proc.pid), ctld0 = ctldPid ? cpuSeconds(ctldPid) : 0;
    const submitted = new Map(), leaseOf = new Map();
    const first = Date.now();
    let next = 0;
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (next < jobs.length) {
        const j = jobs[next++];
        const t0 = Date.now();
        const r = await server.call('POST', '/v1/leases', { gpus: j.gpus, interconnect: j.gpus > 1 ? 'node' : 'any', workload: workload(stamps, `job-${j.id}`, j.runtime) }, server.tenant);
        if (r.status !== 201) throw new Error(`job ${j.id}: ${r.status} ${r.text}`);
        submitted.set(j.id, t0);
        leaseOf.set(j.id, r.json.id);
      }
    }));
    const submitS = (Date.now() - first) / 1000;
    log(`${mode}: ${jobs.length} jobs submitted in ${submitS} s`);
    // Done when every lease has ended (its workload exited), then every stamp has its end.
    const deadline = Date.now() + 15 * 60 * 1000;
    let leases = new Map();
    while (Date.now() < deadline) {
      const all = await server.call('GET', '/v1/leases', null, server.tenant);
      leases = new Map((all.json?.leases ?? []).map((l) => [l.id, l]));
      const open = jobs.filter((j) => { const st = leases.get(leaseOf.get(j.id))?.state; return st === 'running' || st === 'pending'; }).length;
      if (open === 0) break;
      await sleep(500);
    }
    const cpu1 = cpuSeconds(server.proc.pid), ctld1 = ctldPid ? cpuSeconds(ctldPid) : 0;
    const stampsOf = jobs.map((j) => ({ j, lease: leases.get(leaseOf.get(j.id)), s: readStamp(stamps, `job-${j.id}`, leases.get(leaseOf.get(j.id))) }));
    const missing = stampsOf.filter((x) => !x.s?.end).length;
    if (missing) throw new Error(`${mode}: ${missing} of ${jobs.length} jobs have no end stamp (states: ${JSON.stringify([...new Set(stampsOf.filter((x) => !x.s?.end).map((x) => x.lease?.state))])})`);
    const last = Math.max(...stampsOf.map((x) => x.s.end));
    const makespan = (last - first) / 1000;
    const lat = stampsOf.map((x) => x.s.start - submitted.get(x.j.id));
    // GPU overlaps: the devices each lease ran on (from the controller), over the stamps' intervals.
    let countErrors = 0, overlaps = 0;
    const byDevice = new Map();
    for (const { j, lease, s } of stampsOf) {
      const devs = (lease?.devices ?? []).map((d) => `${d.node}/${d.slot}`);
      if (devs.length !== j.gpus || s.devices.split(',').filter(Boolean).length !== j.gpus) countErrors++;
      for (const d of devs) { if (!byDevice.has(d)) byDevice.set(d, []); byDevice.get(d).push([s.start, s.end]); }
    }
    for (const iv of byDevice.values()) {
      iv.sort((a, b) => a[0] - b[0]);
      for (let i = 1; i < iv.length; i++) if (iv[i][0] < iv[i - 1][1]) overlaps++;
    }
    const serverCpu = cpu1 - cpu0, ctldCpu = ctld1 - ctld0;
    return {
      mode, nodes: NODES, gpus: NODES * GPUS, jobs: jobs.length,
      idle_probe_latency_ms_p50: pct(probes, 0.5), idle_probe_latency_ms_p99: pct(probes, 0.99), idle_probe_latency_ms_max: Math.max(...probes),
      preempt_latency_s: { median: median(preempts), max: Math.max(...preempts), samples: preempts },
      stream_submit_s: submitS, stream_makespan_s: makespan, stream_jobs_per_s: jobs.length / makespan,
      sched_latency_ms_p50: pct(lat, 0.5), sched_latency_ms_p99: pct(lat, 0.99),
      controller_cpu_s: serverCpu, controller_cpu_ms_per_job: (serverCpu * 1000) / jobs.length,
      ...(ctldPid ? { slurmctld_cpu_ms_per_job: (ctldCpu * 1000) / jobs.length } : {}),
      gpu_count_errors: countErrors, gpu_overlaps: overlaps,
    };
  } finally {
    for (const c of cleanups.reverse()) { try { c(); } catch (e) { log('cleanup:', e.message); } }
    await sleep(1000);
    log(`${mode}: killed ${killRun(dir)} leftover processes of the run`);
    if (args.includes('--keep')) log(`kept ${dir}`); else fs.rmSync(dir, { recursive: true, force: true });
  }
}

const result = { host: `${os.cpus().length} cores`, seed: SEED, jobs: JOBS, runs: {} };
if (!ONLY || ONLY === 'agents') result.runs.rigshift_agents = await runRigshift('agents');
if (!ONLY || ONLY === 'slurm') result.runs.rigshift_on_slurm = await runRigshift('slurm');
if ((!ONLY || ONLY === 'peer') && !args.includes('--skip-peer')) {
  log('plain Slurm: slurm-peer run.sh (about 2.5 min)');
  const out = execFileSync(PEER, ['--jobs', String(JOBS), '--seed', String(SEED)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 });
  result.runs.plain_slurm = JSON.parse(out);
}
console.log(JSON.stringify(result, null, 1));
