// bench/footprint: what the `start` tree costs under the soak load, started each way an operator starts
// it, what a big upload leaves behind, whether an upload holds up SMTP, and what short operator commands cost.
// Per way (BENCH_WAYS, default cli,bin,npm: `node dist/cli.js start`, `node <RELAY_NODE_FLAGS> dist/cli.js
// start` as the bin's shebang and the units run it, `npm start`), a fresh tree with a private Redis:
//   soak: BENCH_SOAK_S (20) seconds of 20 order mails/s (a delivery and a forward each, to the outbox)
//     plus one 1,000-item upload/s: peak and final RSS summed over the tree (every 250 ms), PSS at the end;
//   big: then one BENCH_BIG_ITEMS (200,000) upload: tree RSS before, peak during, and seconds until it is
//     back within 30 MB of before (60 s at most); meanwhile one client sends mail one message after another:
//     its longest wait for an SMTP reply and the 99th percentile of its waits during the upload, against the
//     same client for 3 s just before it (the longest of a longer window is longer by chance alone: compare p99).
// The tree is the `dist/cli.js start` process and its descendants (with Node 20's relaunching process for
// `cli`); `npm start`'s launchers (npm, sh, scripts/start.mjs) are reported apart. Then --version, mail list,
// stock show, config check: wall, CPU and peak RSS, median of BENCH_RUNS (7). Prints one line of figures.
// Run: npm run bench:footprint  (BENCH_CLI=/other/checkout/dist/cli.js measures another build; BENCH_BIG=0 skips
// the big upload, BENCH_RUNS=0 the commands: quick looks at the soak)
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { median, tempDir, freePort, procKb, processTree, children, postUpload } from './lib.mjs';
import { RELAY_NODE_ENV, RELAY_NODE_FLAGS } from '../dist/roles/node-flags.js';
import { openDb } from '../dist/db/open.js';
import { importCatalog } from '../dist/stock/catalog.js';

const CLI = resolve(process.env.BENCH_CLI ?? 'dist/cli.js');
const WAYS = (process.env.BENCH_WAYS ?? 'cli,bin,npm').split(',');
const SOAK_S = Number(process.env.BENCH_SOAK_S ?? 20);
const BIG_ITEMS = Number(process.env.BENCH_BIG_ITEMS ?? 200_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const BIG = process.env.BENCH_BIG !== '0';
const MAILS_PER_S = 20;
const SOAK_UPLOAD_ITEMS = 1000;
const SETTLE_MB = 30;
const SETTLE_BOUND_S = 60;
const SHOP = { id: 'bench', userId: 'zr-bench', password: 'bench-pass', sender: 'order@bench.example' };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const cmdline = (pid) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
};
const rssMb = (pids) => pids.reduce((s, p) => s + procKb(p, 'status', 'VmRSS'), 0) / 1024;
const pssMb = (pids) => pids.reduce((s, p) => s + procKb(p, 'smaps_rollup', 'Pss'), 0) / 1024;
const code = (i) => `P-${String(i).padStart(6, '0')}`;

/** An order mail as the cart sends it (ISO-2022-JP, the order number in the body), numbered n. */
const orderMail = (n) =>
  [
    `From: <${SHOP.sender}>`,
    'To: customer@example.net',
    `Subject: order ${n}`,
    `Message-ID: <bench-${n}@cart.example>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    `Order number: B-${n}`,
    ...Array.from({ length: 60 }, (_, i) => `item ${i}: ${code(i)} x 1 ............................................`),
    '',
  ].join('\r\n');

/** One SMTP session, one message; resolves to the longest wait for a reply in it (ms). `waits` gets every wait. */
function sendMail(port, n, waits = []) {
  return new Promise((resolveSend, reject) => {
    const s = connect(port, '127.0.0.1');
    const steps = [
      'EHLO bench.example\r\n',
      `MAIL FROM:<${SHOP.sender}>\r\n`,
      'RCPT TO:<customer@example.net>\r\n',
      'DATA\r\n',
      `${orderMail(n)}.\r\n`,
      'QUIT\r\n',
    ];
    let buf = '';
    let sent = performance.now();
    let longest = 0;
    s.setTimeout(30_000, () => s.destroy(new Error('SMTP timeout')));
    s.on('data', (d) => {
      buf += d;
      // a complete reply: its last line has a space after the code
      while (/^\d{3} .*\r\n/m.test(buf)) {
        const m = /^(\d{3}) .*\r\n/m.exec(buf);
        buf = buf.slice(m.index + m[0].length);
        waits.push(performance.now() - sent);
        longest = Math.max(longest, waits.at(-1));
        if (m[1][0] !== '2' && m[1][0] !== '3') return s.destroy(new Error(`SMTP ${m[0].trim()}`));
        const next = steps.shift();
        if (!next) return s.end();
        sent = performance.now();
        s.write(next);
      }
    });
    s.on('error', reject);
    s.on('close', () => resolveSend(longest));
  });
}

function uploadBody(items, round) {
  const body = [`sys_id=${SHOP.userId}`, `sys_pass=${SHOP.password}`];
  for (let i = 0; i < items; i++) body.push(`product[${i}][product_code]=${code(i)}&product[${i}][stock]=${(i * 7 + round) % 1000}`);
  return Buffer.from(body.join('&'));
}

/** Posts an upload of `items` items (or a body built before, `data`); resolves to its answer time (ms). */
async function upload(port, items, round, data = uploadBody(items, round)) {
  const start = performance.now();
  const { status, text } = await postUpload(port, data);
  if (status !== 200) throw new Error(`upload ${status} ${text}`);
  return performance.now() - start;
}

/** Starts the tree one way; resolves once it runs, with its root (the `cli.js start` process) and launchers. */
async function startTree(way, config) {
  // The bin's shebang sets RELAY_NODE_ENV too (an older build, BENCH_CLI, may not export it).
  const env = { ...(way === 'bin' ? RELAY_NODE_ENV : {}), ...process.env, ZAIKO_BRIDGE_CONFIG: config };
  const args = { cli: [process.execPath, [CLI, 'start']], bin: [process.execPath, [...RELAY_NODE_FLAGS, CLI, 'start']] }[way] ?? [
    'npm',
    ['start', '--silent'],
  ];
  const proc = spawn(args[0], args[1], { env, cwd: join(dirname(CLI), '..'), stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const onData = (d) => (log = (log + d).slice(-20_000));
  proc.stdout.on('data', onData);
  proc.stderr.on('data', onData);
  const end = Date.now() + 120_000;
  while (!(log.includes('zaiko-bridge started') && log.includes('stock worker running'))) {
    if (proc.exitCode !== null || Date.now() > end) throw new Error(`${way}: start did not come up: ${log}`);
    await sleep(100);
  }
  const ports = { relay: 0, receiver: 0 };
  for (const line of log.split('\n')) {
    if (line.includes('"relay listening"')) ports.relay = JSON.parse(line).port;
    if (line.includes('"receiver listening"')) ports.receiver = JSON.parse(line).port;
  }
  // The root: the first process from the top whose command line runs `cli.js start`.
  let root = proc.pid;
  const launchers = [];
  while (!cmdline(root).some((a) => a.endsWith('cli.js')) && children(root).length) {
    launchers.push(root);
    root = children(root).find((c) => processTree(c).some((p) => cmdline(p).some((a) => a.endsWith('cli.js')))) ?? children(root)[0];
  }
  return { proc, root, launchers, ports, log: () => log };
}

async function stopTree(tree) {
  const gone = new Promise((r) => (tree.proc.exitCode === null ? tree.proc.once('exit', r) : r()));
  tree.proc.kill('SIGTERM');
  await gone;
}

/** RSS of the tree every 250 ms: the peak since the last mark, and the latest value. */
function sampler(root) {
  let peak = 0,
    last = 0;
  const timer = setInterval(() => {
    last = rssMb(processTree(root));
    peak = Math.max(peak, last);
  }, 250);
  return {
    mark() {
      const p = peak;
      peak = last;
      return p;
    },
    now: () => rssMb(processTree(root)),
    stop: () => clearInterval(timer),
  };
}

async function soak(tree, rss) {
  const pending = [];
  const start = performance.now();
  for (let n = 0; n < SOAK_S * MAILS_PER_S; n++) {
    const due = start + (n * 1000) / MAILS_PER_S;
    await sleep(Math.max(0, due - performance.now()));
    pending.push(sendMail(tree.ports.relay, n));
    if (n % MAILS_PER_S === 0) pending.push(upload(tree.ports.receiver, SOAK_UPLOAD_ITEMS, n));
  }
  await Promise.all(pending);
  await sleep(2000);
  const tail = [];
  for (let i = 0; i < 5; i++, await sleep(200)) tail.push(rss.now());
  return { peak: rss.mark(), end: median(tail), pss: pssMb(processTree(tree.root)) };
}

/** One client, one message after another, until stopped: the longest reply wait and the 99th percentile. */
function sequentialClient(port) {
  let stop = false,
    n = 1e6;
  const waits = [];
  const done = (async () => {
    while (!stop) await sendMail(port, n++, waits);
  })();
  return async () => {
    stop = true;
    await done;
    waits.sort((a, b) => a - b);
    return { max: waits.at(-1) ?? 0, p99: waits[Math.floor(waits.length * 0.99)] ?? 0, replies: waits.length };
  };
}

async function bigUpload(tree, rss) {
  await sleep(3000);
  const before = [];
  for (let i = 0; i < 8; i++, await sleep(250)) before.push(rss.now());
  const beforeMb = median(before);
  let stopClient = sequentialClient(tree.ports.relay);
  await sleep(3000);
  const quiet = await stopClient();
  // Built before the client starts: building 13 MB here blocks this process, and the client's waits with it.
  const data = uploadBody(BIG_ITEMS, 1);
  rss.mark();
  stopClient = sequentialClient(tree.ports.relay);
  const uploadMs = await upload(tree.ports.receiver, BIG_ITEMS, 1, data);
  const during = await stopClient();
  const t0 = performance.now();
  let settleS = SETTLE_BOUND_S,
    after = rss.now();
  while (performance.now() - t0 < SETTLE_BOUND_S * 1000) {
    after = rss.now();
    if (after <= beforeMb + SETTLE_MB) {
      settleS = (performance.now() - t0) / 1000;
      break;
    }
    await sleep(1000);
  }
  return { beforeMb, peakMb: rss.mark(), afterMb: after, settleS, uploadMs, quiet, during };
}

function command(args) {
  const wall = [],
    cpu = [],
    mem = [];
  for (let i = 0; i < RUNS; i++) {
    const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', process.execPath, ...RELAY_NODE_FLAGS, CLI, ...args], { encoding: 'utf8' });
    const [sec, user, sys, kb] = r.stderr.trim().split('\n').at(-1).split(' ').map(Number);
    if (r.status !== 0 || !kb) throw new Error(`${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
    wall.push(sec * 1000);
    cpu.push((user + sys) * 1000);
    mem.push(kb / 1024);
  }
  return { ms: median(wall), cpu: median(cpu), mb: median(mem) };
}

const t = tempDir('zb-bench-footprint-');
try {
  const writeConfig = async (name) => {
    const config = join(t.dir, `${name}.yaml`);
    writeFileSync(
      config,
      JSON.stringify({
        dataDir: join(t.dir, `data-${name}`),
        log: { level: 'info' },
        relay: { port: await freePort() },
        receiver: { port: 0, waitMs: 30_000 },
        upstream: { outbox: join(t.dir, `outbox-${name}`) },
        shops: [
          {
            id: SHOP.id,
            senders: [SHOP.sender],
            forwardTo: 'import@zaikorobot.example',
            forwardOnce: 'off',
            orderMail: { subject: '.*' },
            zaikoRobot: { userId: SHOP.userId, password: SHOP.password },
          },
        ],
      }),
    );
    return { config, dataDir: join(t.dir, `data-${name}`) };
  };
  // One catalog of BIG_ITEMS products, copied into each tree's dataDir.
  const prepared = await writeConfig('prepared');
  const db = openDb(prepared.dataDir, 'stock');
  importCatalog(
    db,
    SHOP.id,
    Array.from({ length: BIG_ITEMS }, (_, i) => ({ code: code(i), name: `item ${i}`, stock: 10, unlimited: 0, usesCodes: 0 })),
  );
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();

  const out = [`footprint soak_s=${SOAK_S} big_items=${BIG_ITEMS} node=${process.version}`];
  for (const way of WAYS) {
    const { config, dataDir } = await writeConfig(way);
    openDb(dataDir, 'stock').close(); // the folder and its modes as the tree makes them
    copyFileSync(join(prepared.dataDir, 'stock.db'), join(dataDir, 'stock.db'));
    const tree = await startTree(way, config);
    const rss = sampler(tree.root);
    try {
      await sleep(3000);
      const idle = rss.now();
      const launcherMb = rssMb(tree.launchers);
      const s = await soak(tree, rss);
      const b = BIG ? await bigUpload(tree, rss) : undefined;
      const f = (x) => x.toFixed(0);
      out.push(
        `${way}_idle_mb=${f(idle)} ${way}_soak_peak_mb=${f(s.peak)} ${way}_soak_end_mb=${f(s.end)} ${way}_soak_end_pss_mb=${f(s.pss)}` +
          (b
            ? ` ${way}_big_before_mb=${f(b.beforeMb)} ${way}_big_peak_mb=${f(b.peakMb)} ${way}_big_after_mb=${f(b.afterMb)}` +
              ` ${way}_big_settle_s=${b.settleS.toFixed(1)} ${way}_big_upload_ms=${f(b.uploadMs)}` +
              ` ${way}_smtp_max_reply_ms_quiet=${f(b.quiet.max)} ${way}_smtp_max_reply_ms_upload=${f(b.during.max)}` +
              ` ${way}_smtp_p99_reply_ms_quiet=${f(b.quiet.p99)} ${way}_smtp_p99_reply_ms_upload=${f(b.during.p99)}` +
              ` ${way}_smtp_replies_upload=${b.during.replies}`
            : '') +
          (tree.launchers.length ? ` ${way}_launchers_mb=${f(launcherMb)}` : ''),
      );
      process.stderr.write(`${out.at(-1)}\n`);
    } finally {
      rss.stop();
      await stopTree(tree);
    }
  }
  const catalogFile = join(import.meta.dirname, '..', 'config', 'example-catalog.csv');
  const { config } = await writeConfig('commands');
  const first = readFileSync(catalogFile, 'utf8').split('\n')[1].split(',')[0];
  if (spawnSync(process.execPath, [CLI, 'stock', 'import', '--config', config, catalogFile]).status !== 0)
    throw new Error('stock import failed');
  const cmds = {
    version: ['--version'],
    mail_list: ['mail', 'list', '--config', config],
    stock_show: ['stock', 'show', first, '--config', config],
    config_check: ['config', 'check', '--config', config],
  };
  for (const [name, args] of RUNS ? Object.entries(cmds) : []) {
    const c = command(args);
    out.push(`${name}_ms=${c.ms.toFixed(0)} ${name}_cpu_ms=${c.cpu.toFixed(0)} ${name}_rss_mb=${c.mb.toFixed(0)}`);
  }
  console.log(out.join(' '));
} finally {
  t.cleanup();
}
