// bench/claims-failover: what a Sentinel failover can do to forward-once claims, and what WAIT 1 costs.
// Real processes on loopback: a master, two replicas, three redis-sentinel (down-after 1 s). Cost: the
// claim (RedisClaims.take, the relay's own Lua get-or-set) alone against the claim followed by WAIT 1
// (one replica has it before the answer), interleaved rounds, medians. Loss: CLAIMERS loops take new
// claims as fast as they can through the sentinels; the master is killed (-9) a second in; once the new
// master answers, every claim a loop saw acknowledged is looked up there: a missing one is a claim the
// failover lost (another relay could then take the order too). Once without and once with WAIT 1.
// Prints one line. Run: npm run build && node bench/claims-failover.mjs
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { createRedis } from '../dist/queue/redis.js';
import { RedisClaims } from '../dist/queue/forward-claims.js';
import { median, tempDir, freePort } from './lib.mjs';

const COST_ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const COST_PER_ROUND = 200;
const CLAIMERS = 8;
const KILL_AFTER_MS = 1000;
const RUN_AFTER_FAILOVER_MS = 1000;
const MASTER = 'zbbench';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function ping(port) {
  const c = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  c.on('error', () => {});
  try {
    await c.connect();
    return await c.call('PING');
  } finally {
    c.disconnect();
  }
}
async function waitFor(port) {
  for (let i = 0; i < 200; i++) {
    if (await ping(port).catch(() => false)) return;
    await sleep(50);
  }
  throw new Error(`nothing answers on ${port}`);
}
async function ask(port, ...args) {
  const c = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  c.on('error', () => {});
  try {
    await c.connect();
    return await c.call(...args);
  } finally {
    c.disconnect();
  }
}

/** master + 2 replicas + 3 sentinels in `dir`; resolves once the replicas are in sync and the sentinels know each other. */
async function topology(dir) {
  const procs = [];
  const nodes = [];
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    const nodeDir = join(dir, `redis-${port}`);
    mkdirSync(nodeDir, { recursive: true });
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', nodeDir, '--save', '', '--appendonly', 'no'];
    args.push('--maxmemory-policy', 'noeviction', '--replica-announce-ip', '127.0.0.1');
    if (i > 0) args.push('--replicaof', '127.0.0.1', String(nodes[0].port));
    const proc = spawn('redis-server', args, { stdio: 'ignore' });
    procs.push(proc);
    nodes.push({ port, proc });
    await waitFor(port);
  }
  const sentinels = [];
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    const conf = join(dir, `sentinel-${port}.conf`);
    writeFileSync(
      conf,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        'sentinel announce-ip 127.0.0.1',
        `sentinel monitor ${MASTER} 127.0.0.1 ${nodes[0].port} 2`,
        `sentinel down-after-milliseconds ${MASTER} 1000`,
        `sentinel failover-timeout ${MASTER} 5000`,
        '',
      ].join('\n'),
    );
    procs.push(spawn('redis-sentinel', [conf], { stdio: 'ignore' }));
    sentinels.push(port);
    await waitFor(port);
  }
  for (let i = 0; ; i++) {
    const info = String(await ask(nodes[0].port, 'INFO', 'replication'));
    const known = await Promise.all(
      sentinels.map((p) =>
        ask(p, 'SENTINEL', 'sentinels', MASTER).then(
          (r) => r.length,
          () => 0,
        ),
      ),
    );
    if ((info.match(/state=online/g) ?? []).length === 2 && known.every((n) => n >= 2)) break;
    if (i > 200) throw new Error('topology did not settle');
    await sleep(100);
  }
  const masterPort = async () => Number((await ask(sentinels[0], 'SENTINEL', 'get-master-addr-by-name', MASTER))[1]);
  return {
    spec: { sentinels: sentinels.map((port) => ({ host: '127.0.0.1', port })), masterName: MASTER },
    nodes,
    masterPort,
    stop: () => procs.forEach((p) => p.kill('SIGKILL')),
  };
}

/** One claim as the relay takes it; with `wait`, acknowledged only once a replica has it (WAIT 1, 100 ms). */
async function claim(claims, client, key, wait) {
  const holder = `bench/${key}`;
  if ((await claims.take('shop', key, holder, 2000)) !== holder) return false;
  return !wait || (await client.wait(1, 100)) >= 1;
}

async function cost(t) {
  const topo = await topology(join(t.dir, 'cost'));
  const client = createRedis(topo.spec, 'client');
  const claims = new RedisClaims(
    async () => client,
    'bench',
    () => 86_400,
  );
  const times = { plain: [], wait: [] };
  try {
    let n = 0;
    for (let r = 0; r < COST_ROUNDS; r++) {
      for (const mode of ['plain', 'wait']) {
        for (let i = 0; i < COST_PER_ROUND; i++) {
          const t0 = performance.now();
          await claim(claims, client, `cost-${n++}`, mode === 'wait');
          times[mode].push(performance.now() - t0);
        }
      }
    }
  } finally {
    client.disconnect();
    topo.stop();
  }
  const p99 = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.99)];
  return { plain: median(times.plain), wait: median(times.wait), plainP99: p99(times.plain), waitP99: p99(times.wait) };
}

async function failover(t, wait) {
  const topo = await topology(join(t.dir, wait ? 'wait' : 'plain'));
  const clients = Array.from({ length: CLAIMERS }, () => createRedis(topo.spec, 'client'));
  const acked = [];
  let failed = 0;
  let stop = false;
  const loops = clients.map(async (client, c) => {
    const claims = new RedisClaims(
      async () => client,
      'bench',
      () => 86_400,
    );
    for (let i = 0; !stop; i++) {
      const key = `${wait ? 'w' : 'p'}-${c}-${i}`;
      try {
        if (await claim(claims, client, key, wait)) acked.push(key);
      } catch {
        failed++; // not acknowledged: the relay holds the forward and asks again later
        await sleep(50);
      }
    }
  });
  await sleep(KILL_AFTER_MS);
  const old = await topo.masterPort();
  const killedAt = performance.now();
  topo.nodes.find((n) => n.port === old).proc.kill('SIGKILL');
  let master;
  for (;;) {
    master = await topo.masterPort().catch(() => old);
    if (master !== old && String(await ask(master, 'INFO', 'replication').catch(() => '')).includes('role:master')) break;
    await sleep(100);
  }
  const electedMs = performance.now() - killedAt;
  await sleep(RUN_AFTER_FAILOVER_MS);
  stop = true;
  await Promise.all(loops);
  for (const c of clients) c.disconnect();
  const check = new Redis({ port: master, host: '127.0.0.1' });
  let lost = 0;
  for (let i = 0; i < acked.length; i += 1000) {
    const keys = acked.slice(i, i + 1000).map((k) => `bench:forward-claim:shop:${k}`);
    lost += (await check.mget(...keys)).filter((v) => v === null).length;
  }
  check.disconnect();
  topo.stop();
  return { acked: acked.length, lost, failed, electedMs };
}

const t = tempDir('zb-bench-claims-');
try {
  const c = await cost(t);
  const plain = await failover(t, false);
  const waited = await failover(t, true);
  console.log(
    `claims-failover: claim_ms=${c.plain.toFixed(3)} claim_wait1_ms=${c.wait.toFixed(3)} ` +
      `wait1_cost_ratio=${(c.wait / c.plain).toFixed(2)} ` +
      `p99_ms=${c.plainP99.toFixed(3)}/${c.waitP99.toFixed(3)} ` +
      `no_wait: acked=${plain.acked} lost_in_failover=${plain.lost} unacked=${plain.failed} elected_ms=${Math.round(plain.electedMs)} ` +
      `wait1: acked=${waited.acked} lost_in_failover=${waited.lost} unacked=${waited.failed} elected_ms=${Math.round(waited.electedMs)}`,
  );
} finally {
  t.cleanup();
}
