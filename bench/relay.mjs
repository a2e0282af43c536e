// bench/relay: zaiko-bridge against a local Postfix 3.7 doing the equivalent hop (relayhost = the sink,
// always_bcc to the import address through a second transport), interleaved rounds, median of 3.
// Load: smtp-source (Postfix's load generator), 20 sessions, one message per connection; upstream
// smtp-sink on loopback. Modes (arguments; none = start large):
//   start  `zaiko-bridge start` as `npm start` runs it (relay, receiver, stock worker, private Redis):
//          2,000 × 5 KiB cold (first after start) and warm (next), single-client accept latency
//   large  `start` with 200 × 1 MiB, cold (first after start) and warm (next): accepted and end to end
//   relay  the relay role alone (Redis outside its tree), 5 KiB cold and warm
//   single `start`, one client sending one 5 KiB message per connection, one after another (a cart
//          sending its order mail): SINGLE_WARMUP unmeasured, then SINGLE_MESSAGES; msg/s, p50, p99
// Prints one line. Needs root, redis-server, postfix (smtp-source, smtp-sink). Run: npm run bench:relay
import { spawn } from 'node:child_process';
import { writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { median, tempDir, freePort, listening, procKb, processTree } from './lib.mjs';
import { EmbeddedRedis } from '../dist/queue/embedded-redis.js';
import { silentLogger } from '../dist/observe/logger.js';
import { RELAY_NODE_FLAGS } from '../dist/roles/node-flags.js';
import { startPostfix } from './postfix.mjs';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 2000);
const LARGE_MESSAGES = Number(process.env.BENCH_LARGE_MESSAGES ?? 200);
const LATENCY_MESSAGES = 200;
const SINGLE_WARMUP = Number(process.env.BENCH_SINGLE_WARMUP ?? 200);
const SINGLE_MESSAGES = Number(process.env.BENCH_SINGLE_MESSAGES ?? 1000);
/** The single mode's message body size (where keeping mail in the ledger's commit stops paying: bench/README.md). */
const SINGLE_BYTES = Number(process.env.BENCH_SINGLE_BYTES ?? 5000);
const SESSIONS = 20;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SENDER = 'order@shop.example';
const IMPORT = 'import@zr.example';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const modes = process.argv.slice(2).length ? process.argv.slice(2) : ['start', 'large'];
for (const m of modes)
  if (!['start', 'large', 'relay', 'single'].includes(m)) throw new Error(`unknown mode ${m} (start, large, relay, single)`);

/**
 * smtp-sink that exits after `expect` messages (-M): its exit is the "all arrived" signal. Its -c
 * counter is only for diagnostics: smtp-sink buffers that output, so the last updates can sit unseen
 * until an idle pooled connection times out (100 s), which once looked like a delivery stall.
 */
async function startSink(port, expect) {
  const proc = spawn('smtp-sink', ['-u', 'postfix', '-c', '-M', String(expect), `127.0.0.1:${port}`, '1000'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let mesg = 0;
  proc.stdout.on('data', (d) => {
    const m = /mesg=(\d+)[^]*$/.exec(String(d));
    if (m) mesg = Number(m[1]);
  });
  const exited = new Promise((r) => proc.once('exit', () => r(true)));
  await listening(port);
  return {
    count: () => mesg,
    waitForAll: (timeoutMs = 300_000) => {
      let timer;
      const timeout = new Promise((r) => {
        timer = setTimeout(() => r(false), timeoutMs);
      });
      return Promise.race([exited, timeout]).finally(() => clearTimeout(timer));
    },
    stop: () => proc.kill('SIGTERM'),
  };
}

/** Runs smtp-source (async: the server's stderr must keep draining meanwhile); resolves to its ms. */
function smtpSource(port, count, size) {
  const start = performance.now();
  const proc = spawn(
    'smtp-source',
    ['-s', String(SESSIONS), '-m', String(count), '-l', String(size), '-f', SENDER, '-t', 'customer@example.net', `127.0.0.1:${port}`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  proc.stderr.on('data', (d) => (err += d));
  return new Promise((resolve, reject) =>
    proc.on('exit', (code) => (code === 0 ? resolve(performance.now() - start) : reject(new Error(`smtp-source: ${err}`)))),
  );
}

/** One client, one message per connection, one after another: ms per message, sorted. */
async function singleClient(port, count, bytes = 5000) {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port, ignoreTLS: true });
  const body = `${'x'.repeat(76)}\r\n`.repeat(Math.ceil(bytes / 78));
  const raw = `From: ${SENDER}\r\nTo: c@example.net\r\nSubject: order\r\n\r\n${body}`;
  const lat = [];
  for (let i = 0; i < count; i++) {
    const s = performance.now();
    await transport.sendMail({ envelope: { from: SENDER, to: ['c@example.net'] }, raw });
    lat.push(performance.now() - s);
  }
  transport.close();
  return lat.sort((a, b) => a - b);
}

/**
 * Peak memory of a process tree: the sum of each process's own peak RSS (VmHWM: an upper bound, the
 * peaks need not coincide; pages of the node binary count once per process), and the largest sum of
 * PSS seen by sampling every 100 ms (shared pages split between the processes that map them).
 */
function watchTreeMemory(pid) {
  let pss = 0;
  const timer = setInterval(() => {
    pss = Math.max(
      pss,
      processTree(pid).reduce((s, p) => s + procKb(p, 'smaps_rollup', 'Pss'), 0),
    );
  }, 100);
  return {
    stop() {
      clearInterval(timer);
      const hwm = processTree(pid).reduce((s, p) => s + procKb(p, 'status', 'VmHWM'), 0);
      return { hwmMb: Math.round(hwm / 1024), pssMb: Math.round(pss / 1024), processes: processTree(pid).length };
    },
  };
}

function zaikoConfig(dir, port, sinkPort) {
  const config = join(dir, `zb-${port}.yaml`);
  writeFileSync(
    config,
    JSON.stringify({
      dataDir: join(dir, `data-${port}`),
      instance: `bench-${port}`,
      log: { level: process.env.BENCH_LOG ? 'info' : 'error' },
      relay: { port, maxClients: 200 },
      receiver: { port: 0 },
      upstream: { port: sinkPort, maxConnections: 20 },
      delivery: { concurrency: 20 },
      shops: [
        {
          id: 'bench',
          senders: [SENDER],
          forwardTo: IMPORT,
          forwardOnce: 'off',
          orderMail: { subject: '.*' },
          zaikoRobot: { userId: 'b', password: 'b' },
        },
      ],
    }),
  );
  return config;
}

/**
 * `start` exactly as `npm start` runs it (node with RELAY_NODE_FLAGS, dist/cli.js start), its private Redis in
 * the dataDir; or (`role` relay) the relay role alone with ctx's Redis.
 */
async function startZaiko(ctx, role, port, sinkPort) {
  const config = zaikoConfig(ctx.dir, port, sinkPort);
  const env = { ...process.env };
  delete env.ZAIKO_BRIDGE_REDIS_URL;
  delete env.ZAIKO_BRIDGE_CONFIG;
  if (role === 'relay') env.ZAIKO_BRIDGE_REDIS_URL = await ctx.redisUrl();
  const proc = spawn(process.execPath, [...RELAY_NODE_FLAGS, 'dist/cli.js', role, '--config', config], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env,
  });
  if (process.env.BENCH_LOG) proc.stderr.on('data', (d) => appendFileSync(process.env.BENCH_LOG, d));
  let err = '';
  proc.stderr.on('data', (d) => (err = (err + d).slice(-4000)));
  if (!(await listening(port, 30_000))) throw new Error(`zaiko-bridge ${role} did not listen: ${err}`);
  await sleep(300);
  return {
    pid: proc.pid,
    stop: () =>
      new Promise((r) => {
        proc.once('exit', r);
        proc.kill('SIGTERM');
      }),
  };
}

function postfixServer(ctx, port, sinkPort) {
  return startPostfix(join(ctx.dir, `pf-${port}`), {
    port,
    main: [
      `relayhost = [127.0.0.1]:${sinkPort}`,
      `always_bcc = ${IMPORT}`,
      `transport_maps = inline:{zr.example=copy:[127.0.0.1]:${sinkPort}}`,
      'default_process_limit = 100',
    ],
    master: [`127.0.0.1:${port} inet n - n - - smtpd`, 'copy unix - - n - - smtp'],
  });
}

/** One pass: `send` through the server, timed until it ends (accepted) and until the sink has all (end to end). */
async function pass(label, sinkPort, count, send) {
  const sink = await startSink(sinkPort, 2 * count);
  const start = performance.now();
  const acceptMs = await send();
  const done = await sink.waitForAll();
  const e2eMs = performance.now() - start;
  sink.stop();
  if (!done) throw new Error(`${label}: only ${sink.count()} of ${2 * count} messages reached the sink`);
  return { accept: count / (acceptMs / 1000), e2e: count / (e2eMs / 1000), acceptMs, e2eMs };
}

/**
 * A fresh server (Postfix, or zaiko-bridge as `role`) and the mode's passes. 5 KiB: "cold" is the
 * first MESSAGES after start (V8 still compiling the hot paths), "warm" the next MESSAGES, then the
 * single-client latency; 1 MiB: the same two passes of LARGE_MESSAGES. Each pass has its own sink on the same
 * port, started when the previous one has exited, so "all at the sink" is exact per pass.
 */
async function round(kind, mode, ctx) {
  const sinkPort = await freePort();
  const port = await freePort();
  const role = mode === 'relay' ? 'relay' : 'start';
  const server = kind === 'postfix' ? await postfixServer(ctx, port, sinkPort) : await startZaiko(ctx, role, port, sinkPort);
  const rss = server.pid ? watchTreeMemory(server.pid) : undefined;
  const s = (ms) => (ms / 1000).toFixed(1);
  const r = {};
  let line;
  if (mode === 'single') {
    const sum = (xs) => xs.reduce((a, b) => a + b, 0);
    await pass(kind, sinkPort, SINGLE_WARMUP, async () => sum(await singleClient(port, SINGLE_WARMUP, SINGLE_BYTES)));
    let lat;
    r.single = await pass(kind, sinkPort, SINGLE_MESSAGES, async () => {
      lat = await singleClient(port, SINGLE_MESSAGES, SINGLE_BYTES);
      return sum(lat);
    });
    r.p50 = lat[Math.floor(lat.length * 0.5)];
    r.p99 = lat[Math.floor(lat.length * 0.99)];
    line =
      `${SINGLE_MESSAGES} × ${SINGLE_BYTES} bytes one at a time: ${r.single.accept.toFixed(0)} msg/s, ` +
      `p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms`;
  } else if (mode === 'large') {
    r.cold = await pass(kind, sinkPort, LARGE_MESSAGES, () => smtpSource(port, LARGE_MESSAGES, 1024 * 1024));
    r.warm = await pass(kind, sinkPort, LARGE_MESSAGES, () => smtpSource(port, LARGE_MESSAGES, 1024 * 1024));
    line =
      `${LARGE_MESSAGES} × 1 MiB cold accepted in ${s(r.cold.acceptMs)} s, at the sink in ${s(r.cold.e2eMs)} s; ` +
      `warm ${s(r.warm.acceptMs)} s, ${s(r.warm.e2eMs)} s`;
  } else {
    r.cold = await pass(kind, sinkPort, MESSAGES, () => smtpSource(port, MESSAGES, 5120));
    r.warm = await pass(kind, sinkPort, MESSAGES, () => smtpSource(port, MESSAGES, 5120));
    let lat;
    await pass(kind, sinkPort, LATENCY_MESSAGES, async () => {
      lat = await singleClient(port, LATENCY_MESSAGES);
      return lat.reduce((a, b) => a + b, 0);
    });
    r.p50 = lat[Math.floor(lat.length * 0.5)];
    r.p99 = lat[Math.floor(lat.length * 0.99)];
    line =
      `cold accepted in ${s(r.cold.acceptMs)} s, at the sink in ${s(r.cold.e2eMs)} s; warm ${s(r.warm.acceptMs)} s, ` +
      `${s(r.warm.e2eMs)} s; single client p50 ${r.p50.toFixed(1)} ms`;
  }
  if (rss) Object.assign(r, rss.stop());
  const stopStart = performance.now();
  await server.stop();
  const peak = rss ? `tree peak RSS ${r.hwmMb} MB, PSS ${r.pssMb} MB; ` : '';
  console.error(`${mode} ${kind}: ${line}; ${peak}stopped in ${s(performance.now() - stopStart)} s`);
  return r;
}

/** `mode`'s rounds, Postfix and zaiko-bridge interleaved (the order alternates); the mode's figures. */
async function runMode(mode, ctx) {
  const results = { postfix: [], zaiko: [] };
  for (let i = 0; i < ROUNDS; i++) {
    for (const kind of i % 2 ? ['zaiko', 'postfix'] : ['postfix', 'zaiko']) results[kind].push(await round(kind, mode, ctx));
  }
  const m = (kind, get) => median(results[kind].map(get));
  const ratio = (name, get, digits = 0) =>
    `${mode}_${name}_zaiko=${m('zaiko', get).toFixed(digits)} ${mode}_${name}_postfix=${m('postfix', get).toFixed(digits)} ` +
    `${mode}_${name}_ratio=${(m('zaiko', get) / m('postfix', get)).toFixed(2)}`;
  if (mode === 'single') {
    const ms = (name, get) =>
      `single_${name}_ms_zaiko=${m('zaiko', get).toFixed(2)} single_${name}_ms_postfix=${m('postfix', get).toFixed(2)} ` +
      `single_${name}_ratio=${(m('zaiko', get) / m('postfix', get)).toFixed(2)}`;
    return [ratio('msg_s', (r) => r.single.accept), ms('p50', (r) => r.p50), ms('p99', (r) => r.p99)].join(' ');
  }
  const digits = mode === 'large' ? 1 : 0;
  const figures = [
    ratio('warm_accept_msg_s', (r) => r.warm.accept, digits),
    ratio('warm_e2e_msg_s', (r) => r.warm.e2e, digits),
    ratio('cold_accept_msg_s', (r) => r.cold.accept, digits),
    ratio('cold_e2e_msg_s', (r) => r.cold.e2e, digits),
  ];
  if (mode !== 'large')
    figures.push(
      `${mode}_p50_ms_zaiko=${m('zaiko', (r) => r.p50).toFixed(1)} ${mode}_p50_ms_postfix=${m('postfix', (r) => r.p50).toFixed(1)}`,
      `${mode}_p99_ms_zaiko=${m('zaiko', (r) => r.p99).toFixed(1)} ${mode}_p99_ms_postfix=${m('postfix', (r) => r.p99).toFixed(1)}`,
    );
  figures.push(`${mode}_tree_peak_rss_mb=${Math.max(...results.zaiko.map((r) => r.hwmMb))}`);
  figures.push(`${mode}_tree_peak_pss_mb=${Math.max(...results.zaiko.map((r) => r.pssMb))}`);
  return figures.join(' ');
}

const t = tempDir('zb-bench-relay-');
// For `relay` mode: the very redis-server `start` runs (unix socket, AOF fsynced every second), outside the measured tree.
const embedded = new EmbeddedRedis(join(t.dir, 'redis'), silentLogger);
let redisUrl;
const ctx = { dir: t.dir, redisUrl: () => (redisUrl ??= embedded.start()) };
try {
  const figures = [];
  for (const mode of modes) figures.push(await runMode(mode, ctx));
  console.log(`relay rounds=${ROUNDS} sessions=${SESSIONS} messages=${MESSAGES}x5KiB large=${LARGE_MESSAGES}x1MiB ${figures.join(' ')}`);
} finally {
  if (redisUrl) await embedded.stop();
  t.cleanup();
}
