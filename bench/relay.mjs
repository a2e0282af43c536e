// bench/relay: smtp-source (Postfix's load generator), 20 sessions, one message per connection,
// 2,000 messages of 5 KiB, each an order mail needing a delivery and a forward, upstream smtp-sink.
// The same load through a local Postfix configured as the equivalent hop (relayhost = the sink,
// always_bcc to the import address through a second transport), interleaved, median of 3 rounds.
// Then accept latency p50/p99 from an in-repo client, and peak RSS with 200 × 1 MiB messages.
// Prints one line. Needs root, redis-server, postfix (smtp-source, smtp-sink). Run: npm run bench:relay
import { spawn } from 'node:child_process';
import { writeFileSync, readFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { median, tempDir, freePort } from './lib.mjs';
import { EmbeddedRedis } from '../dist/queue/embedded-redis.js';
import { silentLogger } from '../dist/observe/logger.js';
import { startPostfix } from './postfix.mjs';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 2000);
const SESSIONS = 20;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SENDER = 'order@shop.example';
const IMPORT = 'import@zr.example';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

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
  await sleep(300);
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

/** Runs smtp-source (async: the relay's stderr must keep draining meanwhile); resolves to its ms. */
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

function peakRssMb(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

async function startZaiko(dir, redisUrl, port, sinkPort) {
  const config = join(dir, `zb-${port}.yaml`);
  writeFileSync(
    config,
    JSON.stringify({
      dataDir: join(dir, `data-${port}`),
      instance: `bench-${port}`,
      log: { level: process.env.BENCH_LOG ? 'info' : 'error' },
      relay: { port, maxClients: 200 },
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
  const proc = spawn(process.execPath, ['dist/cli.js', 'relay', '--config', config], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ZAIKO_BRIDGE_REDIS_URL: redisUrl },
  });
  if (process.env.BENCH_LOG) proc.stderr.on('data', (d) => appendFileSync(process.env.BENCH_LOG, d));
  let err = '';
  proc.stderr.on('data', (d) => (err += d));
  for (let i = 0; i < 200 && !err.includes('relay listening'); i++) await sleep(50);
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

/** One pass of MESSAGES through the server, timed until smtp-source ends and until the sink has all. */
async function pass(kind, port, sinkPort) {
  const sink = await startSink(sinkPort, 2 * MESSAGES);
  const start = performance.now();
  const acceptMs = await smtpSource(port, MESSAGES, 5120);
  const done = await sink.waitForAll();
  const e2eMs = performance.now() - start;
  sink.stop();
  if (!done) throw new Error(`${kind}: only ${sink.count()} of ${2 * MESSAGES} messages reached the sink`);
  return { accept: MESSAGES / (acceptMs / 1000), e2e: MESSAGES / (e2eMs / 1000), acceptMs, e2eMs };
}

/**
 * A fresh server, then two passes: "cold" is the first MESSAGES after start (V8 still compiling the hot
 * paths: ~13 % of the machine's CPU in that pass, by perf), "warm" the next MESSAGES, what a relay that
 * has been running does. Each pass has its own sink on the same port, started when the previous one
 * has exited, so "all at the sink" is exact per pass.
 */
async function round(kind, ctx) {
  const sinkPort = await freePort();
  const port = await freePort();
  const server =
    kind === 'postfix'
      ? await startPostfix(join(ctx.dir, `pf-${port}`), {
          port,
          main: [
            `relayhost = [127.0.0.1]:${sinkPort}`,
            `always_bcc = ${IMPORT}`,
            `transport_maps = inline:{zr.example=copy:[127.0.0.1]:${sinkPort}}`,
            'default_process_limit = 100',
          ],
          master: [`127.0.0.1:${port} inet n - n - - smtpd`, 'copy unix - - n - - smtp'],
        })
      : await startZaiko(ctx.dir, ctx.redis.url, port, sinkPort);
  const cold = await pass(kind, port, sinkPort);
  const warm = await pass(kind, port, sinkPort);
  const rss = kind === 'zaiko' ? peakRssMb(server.pid) : NaN;
  const stopStart = performance.now();
  await server.stop();
  const s = (ms) => (ms / 1000).toFixed(1);
  console.error(
    `${kind}: cold accepted in ${s(cold.acceptMs)} s, at the sink in ${s(cold.e2eMs)} s; ` +
      `warm ${s(warm.acceptMs)} s, ${s(warm.e2eMs)} s; stopped in ${s(performance.now() - stopStart)} s`,
  );
  return { cold, warm, rss };
}

async function latencyAndLarge(ctx) {
  const sinkPort = await freePort();
  const sink = await startSink(sinkPort, 2 * 200 + 2 * 200);
  const port = await freePort();
  const relay = await startZaiko(ctx.dir, ctx.redis.url, port, sinkPort);
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port, ignoreTLS: true });
  const raw = `From: ${SENDER}\r\nTo: c@example.net\r\nSubject: order\r\n\r\n${'x'.repeat(5000)}\r\n`;
  const lat = [];
  for (let i = 0; i < 200; i++) {
    const s = performance.now();
    await transport.sendMail({ envelope: { from: SENDER, to: ['c@example.net'] }, raw });
    lat.push(performance.now() - s);
  }
  transport.close();
  lat.sort((a, b) => a - b);
  const large = await smtpSource(port, 200, 1024 * 1024);
  const largeStart = performance.now();
  const all = await sink.waitForAll();
  console.error(
    `large: accepted in ${(large / 1000).toFixed(1)} s, ${all ? 'all' : `only ${sink.count()} of 800`} at the sink ` +
      `${((performance.now() - largeStart) / 1000).toFixed(1)} s later`,
  );
  const rss = peakRssMb(relay.pid);
  await relay.stop();
  sink.stop();
  return {
    p50: lat[Math.floor(lat.length * 0.5)],
    p99: lat[Math.floor(lat.length * 0.99)],
    largeAccept: 200 / (large / 1000),
    largeRss: rss,
  };
}

const t = tempDir('zb-bench-relay-');
// The very redis-server `start` runs (unix socket, AOF fsynced every second), not a lighter stand-in.
const embedded = new EmbeddedRedis(join(t.dir, 'redis'), silentLogger);
const redis = { url: await embedded.start(), stop: () => embedded.stop() };
try {
  const ctx = { dir: t.dir, redis };
  const results = { postfix: [], zaiko: [] };
  for (let r = 0; r < ROUNDS; r++) {
    for (const kind of r % 2 ? ['zaiko', 'postfix'] : ['postfix', 'zaiko']) {
      results[kind].push(await round(kind, ctx));
    }
  }
  const m = (kind, k, p = 'warm') => median(results[kind].map((x) => (p ? x[p][k] : x[k])));
  const pair = (k, p, name) =>
    `zaiko_${name}_msg_s=${m('zaiko', k, p).toFixed(0)} postfix_${name}_msg_s=${m('postfix', k, p).toFixed(0)} ` +
    `${name}_ratio=${(m('zaiko', k, p) / m('postfix', k, p)).toFixed(2)} `;
  const extra = await latencyAndLarge(ctx);
  const rounds = ROUNDS
    ? pair('accept', 'warm', 'accept') +
      pair('e2e', 'warm', 'e2e') +
      pair('accept', 'cold', 'cold_accept') +
      pair('e2e', 'cold', 'cold_e2e') +
      `zaiko_peak_rss_mb=${m('zaiko', 'rss', null)} `
    : ''; // BENCH_ROUNDS=0: latency and large messages only
  console.log(
    `relay messages=${MESSAGES} sessions=${SESSIONS} size=5KiB rounds=${ROUNDS} ${rounds}` +
      `accept_p50_ms=${extra.p50.toFixed(1)} accept_p99_ms=${extra.p99.toFixed(1)} ` +
      `large_1MiB_accept_msg_s=${extra.largeAccept.toFixed(0)} large_1MiB_peak_rss_mb=${extra.largeRss}`,
  );
} finally {
  await redis.stop();
  t.cleanup();
}
