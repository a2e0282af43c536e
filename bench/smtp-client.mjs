// bench/smtp-client: the delivery side alone, from spool files to smtp-sink over 20 connections,
// interleaved rounds, median of 3. Modes (arguments; none = both):
//   small  4,000 × 5 KiB: nodemailer's pooled transport (what the relay used first) against the relay's
//          SmtpPool (src/delivery/smtp-pool.ts), and SmtpPool with nodemailer's own dot-stuffing loop
//   large  200 × 1 MiB (20 files): SmtpPool as it was (a stream per message above 256 KiB, the forced
//          collection every 4 MiB, nodemailer's dot-stuffing) against SmtpPool now (the connection's
//          reused buffer, the indexOf scan of src/delivery/data-stream-fast-path.ts)
// Prints one line: msg/s, CPU ms per message of this process (all its threads) and its peak RSS while
// a round runs. Runs with --expose-gc, as the relay does (the forced collection is part of the old path).
// Run: npm run bench:smtp-client [small] [large]
import { spawn } from 'node:child_process';
import { writeFileSync, createReadStream } from 'node:fs';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import DataStream from 'nodemailer/lib/smtp-connection/data-stream';
import { SmtpPool } from '../dist/delivery/smtp-pool.js';
import { installDataStreamFastPath, transforms } from '../dist/delivery/data-stream-fast-path.js';
import { median, tempDir, freePort } from './lib.mjs';

if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc (npm run bench:smtp-client does)');
if (!installDataStreamFastPath()) throw new Error('the DataStream fast path does not apply to this nodemailer');
const modes = process.argv.slice(2).length ? process.argv.slice(2) : ['small', 'large'];
for (const m of modes) if (!['small', 'large'].includes(m)) throw new Error(`unknown mode ${m} (small, large)`);

const SMALL = Number(process.env.BENCH_MESSAGES ?? 4000);
const LARGE = Number(process.env.BENCH_LARGE_MESSAGES ?? 200);
const LARGE_FILES = 20;
const CONNECTIONS = 20;
const ROUNDS = 3;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const envelope = { from: 'order@shop.example', to: ['customer@example.net'] };
const { original, fast } = transforms();
const setTransform = (t) => (DataStream.prototype._transform = t);

// Each sender: how it sends one file, and which dot-stuffing it runs with.
const senders = {
  transport: (port) => {
    const t = nodemailer.createTransport({ pool: true, host: '127.0.0.1', port, maxConnections: CONNECTIONS });
    return { transform: original, send: (file) => t.sendMail({ envelope, raw: createReadStream(file) }), close: () => t.close() };
  },
  pool: (port) => {
    const p = new SmtpPool({ host: '127.0.0.1', port, maxConnections: CONNECTIONS });
    return { transform: fast, send: (file) => p.send(envelope, file), close: () => p.close() };
  },
  pool_old: (port) => {
    const p = new SmtpPool({ host: '127.0.0.1', port, maxConnections: CONNECTIONS, bufferLimitBytes: 256 * 1024 });
    return { transform: original, send: (file) => p.send(envelope, file), close: () => p.close() };
  },
};

async function round(kind, files, n) {
  const port = await freePort();
  // -M: the sink exits after n messages (it may cut the last session short: its send is not awaited).
  const sink = spawn('smtp-sink', ['-u', 'postfix', '-M', String(n), `127.0.0.1:${port}`, '1000'], { stdio: 'ignore' });
  const done = new Promise((r) => sink.once('exit', r));
  await sleep(300);
  globalThis.gc();
  const sender = senders[kind](port);
  setTransform(sender.transform);
  let peakRss = process.memoryUsage.rss();
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 20);
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  let next = 0;
  for (let i = 0; i < CONNECTIONS; i++)
    void (async () => {
      while (next < n) await sender.send(files[next++ % files.length]).catch(() => {});
    })();
  await done;
  const ms = performance.now() - start;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
  sender.close();
  await sleep(200);
  return { rate: n / (ms / 1000), cpu: (cpu.user + cpu.system) / 1000 / n, rss: peakRss / 1024 / 1024 };
}

/** Interleaved rounds of each kind (order rotating); per kind the median of each figure. */
async function compare(kinds, files, n) {
  const r = Object.fromEntries(kinds.map((k) => [k, []]));
  for (let i = 0; i < ROUNDS; i++)
    for (let j = 0; j < kinds.length; j++) {
      const kind = kinds[(i + j) % kinds.length];
      r[kind].push(await round(kind, files, n));
    }
  return (kind, k) => median(r[kind].map((x) => x[k]));
}

const t = tempDir('zb-bench-smtp-');
process.on('uncaughtException', () => {}); // a session the sink cut at its exit
const figures = [`connections=${CONNECTIONS} rounds=${ROUNDS}`];
try {
  if (modes.includes('small')) {
    const file = join(t.dir, 'm.eml');
    writeFileSync(
      file,
      `From: order@shop.example\r\nTo: customer@example.net\r\nSubject: order\r\n\r\n${'La de da de da 1.\r\n'.repeat(280)}`,
    );
    const m = await compare(['transport', 'pool_old', 'pool'], [file], SMALL);
    figures.push(
      `small=${SMALL}x5KiB transport_msg_s=${m('transport', 'rate').toFixed(0)} pool_msg_s=${m('pool', 'rate').toFixed(0)} ` +
        `rate_ratio=${(m('pool', 'rate') / m('transport', 'rate')).toFixed(2)} ` +
        `transport_cpu_ms_per_msg=${m('transport', 'cpu').toFixed(3)} pool_cpu_ms_per_msg=${m('pool', 'cpu').toFixed(3)} ` +
        `cpu_ratio=${(m('pool', 'cpu') / m('transport', 'cpu')).toFixed(2)} ` +
        `pool_old_stuffing_cpu_ms_per_msg=${m('pool_old', 'cpu').toFixed(3)}`,
    );
  }
  if (modes.includes('large')) {
    // As smtp-source -l 1048576 writes them: headers, then lines of 78 characters.
    const body = Array.from({ length: 13_400 }, (_, i) => `${i}`.padStart(10, '0') + 'x'.repeat(66)).join('\r\n') + '\r\n';
    const files = Array.from({ length: LARGE_FILES }, (_, i) => {
      const file = join(t.dir, `large-${i}.eml`);
      writeFileSync(file, `From: order@shop.example\r\nTo: customer@example.net\r\nSubject: large ${i}\r\n\r\n${body}`);
      return file;
    });
    const m = await compare(['pool_old', 'pool'], files, LARGE);
    const f = (kind, k, d) => m(kind, k).toFixed(d);
    figures.push(
      `large=${LARGE}x1MiB old_msg_s=${f('pool_old', 'rate', 1)} new_msg_s=${f('pool', 'rate', 1)} ` +
        `rate_ratio=${(m('pool', 'rate') / m('pool_old', 'rate')).toFixed(2)} ` +
        `old_cpu_ms_per_msg=${f('pool_old', 'cpu', 2)} new_cpu_ms_per_msg=${f('pool', 'cpu', 2)} ` +
        `cpu_ratio=${(m('pool', 'cpu') / m('pool_old', 'cpu')).toFixed(2)} ` +
        `old_peak_rss_mb=${f('pool_old', 'rss', 0)} new_peak_rss_mb=${f('pool', 'rss', 0)}`,
    );
  }
  console.log(`smtp-client ${figures.join(' ')}`);
} finally {
  t.cleanup();
}
