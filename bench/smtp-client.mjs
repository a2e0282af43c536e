// bench/smtp-client: the delivery side alone. 4,000 messages of 5 KiB from a spool file to smtp-sink
// over 20 connections: nodemailer's pooled transport (what the relay used first) against the relay's
// SmtpPool (nodemailer's SMTPConnection, src/delivery/smtp-pool.ts), interleaved, median of 3.
// Prints one line: msg/s and CPU ms per message of each, and the ratios. Run: npm run bench:smtp-client
import { spawn } from 'node:child_process';
import { writeFileSync, createReadStream } from 'node:fs';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { SmtpPool } from '../dist/delivery/smtp-pool.js';
import { median, tempDir, freePort } from './lib.mjs';

const N = Number(process.env.BENCH_MESSAGES ?? 4000);
const CONNECTIONS = 20;
const ROUNDS = 3;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const envelope = { from: 'order@shop.example', to: ['customer@example.net'] };

const senders = {
  transport: (port, file) => {
    const t = nodemailer.createTransport({ pool: true, host: '127.0.0.1', port, maxConnections: CONNECTIONS });
    return { send: () => t.sendMail({ envelope, raw: createReadStream(file) }), close: () => t.close() };
  },
  pool: (port, file) => {
    const p = new SmtpPool({ host: '127.0.0.1', port, maxConnections: CONNECTIONS });
    return { send: () => p.send(envelope, file), close: () => p.close() };
  },
};

async function round(kind, file) {
  const port = await freePort();
  // -M: the sink exits after N messages (it may cut the last session short: its send is not awaited).
  const sink = spawn('smtp-sink', ['-u', 'postfix', '-M', String(N), `127.0.0.1:${port}`, '1000'], { stdio: 'ignore' });
  const done = new Promise((r) => sink.once('exit', r));
  await sleep(300);
  const sender = senders[kind](port, file);
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  let next = 0;
  for (let i = 0; i < CONNECTIONS; i++)
    void (async () => {
      while (next < N) {
        next++;
        await sender.send().catch(() => {});
      }
    })();
  await done;
  const ms = performance.now() - start;
  const cpu = process.cpuUsage(cpu0);
  sender.close();
  await sleep(200);
  return { rate: N / (ms / 1000), cpu: (cpu.user + cpu.system) / 1000 / N };
}

const t = tempDir('zb-bench-smtp-');
process.on('uncaughtException', () => {}); // a session the sink cut at its exit
try {
  const file = join(t.dir, 'm.eml');
  writeFileSync(
    file,
    `From: order@shop.example\r\nTo: customer@example.net\r\nSubject: order\r\n\r\n${'La de da de da 1.\r\n'.repeat(280)}`,
  );
  const r = { transport: [], pool: [] };
  for (let i = 0; i < ROUNDS; i++)
    for (const kind of i % 2 ? ['pool', 'transport'] : ['transport', 'pool']) r[kind].push(await round(kind, file));
  const m = (kind, k) => median(r[kind].map((x) => x[k]));
  console.log(
    `smtp-client messages=${N} connections=${CONNECTIONS} size=5KiB rounds=${ROUNDS} ` +
      `transport_msg_s=${m('transport', 'rate').toFixed(0)} pool_msg_s=${m('pool', 'rate').toFixed(0)} ` +
      `rate_ratio=${(m('pool', 'rate') / m('transport', 'rate')).toFixed(2)} ` +
      `transport_cpu_ms_per_msg=${m('transport', 'cpu').toFixed(3)} pool_cpu_ms_per_msg=${m('pool', 'cpu').toFixed(3)} ` +
      `cpu_ratio=${(m('pool', 'cpu') / m('transport', 'cpu')).toFixed(2)}`,
  );
} finally {
  t.cleanup();
}
