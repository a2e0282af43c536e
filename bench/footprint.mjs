// bench/footprint: what zaiko-bridge costs before any work. The `start` tree as `npm start` runs it (node
// with RELAY_NODE_FLAGS, dist/cli.js start, private Redis), idle: RSS of each process (start, stock worker, Redis), and the
// tree's PSS (its real memory: node's code pages, ~35-50 MB of each node process's RSS, counted once);
// then the wall time and peak RSS of short operator commands (--version, mail list, stock show, config check).
// Medians of BENCH_ROUNDS fresh starts (3) and BENCH_RUNS runs of each command (7). Prints one line of figures.
// Run: npm run bench:footprint  (BENCH_CLI=/other/checkout/dist/cli.js measures another build the same way)
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { median, tempDir, freePort, procKb, children } from './lib.mjs';
import { RELAY_NODE_FLAGS } from '../dist/roles/node-flags.js';

const CLI = resolve(process.env.BENCH_CLI ?? 'dist/cli.js');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const IDLE_MS = Number(process.env.BENCH_IDLE_MS ?? 5000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const cmdline = (pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');

/** One fresh `start`: once the worker and start both said they run, IDLE_MS of quiet, then RSS of each process in MB. */
async function idleStart(config) {
  const proc = spawn(process.execPath, [...RELAY_NODE_FLAGS, CLI, 'start', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const seen = new Promise((resolveSeen, reject) => {
    proc.stderr.on('data', (d) => {
      log = (log + d).slice(-8000);
      if (log.includes('stock worker running') && log.includes('zaiko-bridge started')) resolveSeen();
    });
    proc.once('exit', (code) => reject(new Error(`start exited ${code}: ${log}`)));
    setTimeout(() => reject(new Error(`start did not come up in 60 s: ${log}`)), 60_000).unref();
  });
  try {
    await seen;
    await sleep(IDLE_MS);
    const kids = children(proc.pid);
    const worker = kids.find((p) => cmdline(p).includes('worker'));
    const redis = kids.find((p) => cmdline(p)[0].includes('redis-server'));
    const mb = (pid) => (pid ? procKb(pid, 'status', 'VmRSS') / 1024 : 0);
    const samples = [];
    for (let i = 0; i < 5; i++, await sleep(200)) {
      const pss = [proc.pid, worker, redis].reduce((sum, pid) => sum + (pid ? procKb(pid, 'smaps_rollup', 'Pss') / 1024 : 0), 0);
      samples.push({ start: mb(proc.pid), worker: mb(worker), redis: mb(redis), pss });
    }
    const m = (k) => median(samples.map((s) => s[k]));
    return { start: m('start'), worker: m('worker'), redis: m('redis'), pss: m('pss') };
  } finally {
    const gone = new Promise((r) => (proc.exitCode === null ? proc.once('exit', r) : r()));
    proc.kill('SIGTERM');
    await gone;
  }
}

/**
 * Median wall time (ms), CPU time (user + system, ms: what survives a busy machine) and peak RSS (MB) of
 * `node <RELAY_NODE_FLAGS> cli ...args`, as the bin's shebang runs it.
 */
function command(args) {
  const wall = [],
    cpu = [],
    rss = [];
  for (let i = 0; i < RUNS; i++) {
    const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', process.execPath, ...RELAY_NODE_FLAGS, CLI, ...args], { encoding: 'utf8' });
    const [sec, user, sys, kb] = r.stderr.trim().split('\n').at(-1).split(' ').map(Number);
    if (r.status !== 0 || !kb) throw new Error(`${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
    wall.push(sec * 1000);
    cpu.push((user + sys) * 1000);
    rss.push(kb / 1024);
  }
  return { ms: median(wall), cpu: median(cpu), mb: median(rss) };
}

const t = tempDir('zb-bench-footprint-');
try {
  const config = join(t.dir, 'zb.yaml');
  writeFileSync(
    config,
    JSON.stringify({
      dataDir: join(t.dir, 'data'),
      log: { level: 'info' },
      relay: { port: await freePort() },
      receiver: { port: 0 },
      upstream: { outbox: join(t.dir, 'outbox') },
      shops: [{ id: 'bench', senders: ['order@bench.example'], zaikoRobot: { userId: 'b', password: 'b' } }],
    }),
  );
  const idle = [];
  for (let r = 0; r < ROUNDS; r++) idle.push(await idleStart(config));
  const catalog = join(import.meta.dirname, '..', 'config', 'example-catalog.csv');
  const code = readFileSync(catalog, 'utf8').split('\n')[1].split(',')[0];
  if (spawnSync(process.execPath, [CLI, 'stock', 'import', '--config', config, catalog]).status !== 0)
    throw new Error('stock import failed');
  const cmds = {
    version: ['--version'],
    mail_list: ['mail', 'list', '--config', config],
    stock_show: ['stock', 'show', code, '--config', config],
    config_check: ['config', 'check', '--config', config],
  };
  const out = [`footprint rounds=${ROUNDS} idle_ms=${IDLE_MS}`];
  for (const k of ['start', 'worker', 'redis']) out.push(`idle_${k}_rss_mb=${median(idle.map((i) => i[k])).toFixed(0)}`);
  out.push(`idle_tree_rss_mb=${median(idle.map((i) => i.start + i.worker + i.redis)).toFixed(0)}`);
  out.push(`idle_tree_pss_mb=${median(idle.map((i) => i.pss)).toFixed(0)}`);
  for (const [name, args] of Object.entries(cmds)) {
    const c = command(args);
    out.push(`${name}_ms=${c.ms.toFixed(0)} ${name}_cpu_ms=${c.cpu.toFixed(0)} ${name}_rss_mb=${c.mb.toFixed(0)}`);
  }
  console.log(out.join(' '));
} finally {
  t.cleanup();
}
