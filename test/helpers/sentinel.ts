// A Redis Sentinel topology of real processes on free loopback ports in a temp dir: one master, two
// replicas, three redis-sentinel. Short failure detection (1 s) so a failover takes seconds.
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, waitForRedis, sleep } from './net.js';
import { spawnTracked } from './processes.js';
import { JOB_KEEPING_REDIS_ARGS } from '../../src/queue/embedded-redis.js';

export const MASTER_NAME = 'zbmaster';

export interface RedisNode {
  port: number;
  proc: ChildProcess;
}

export interface SentinelTopology {
  /** ["127.0.0.1:p1", …] as redis.sentinels takes them. */
  sentinelAddresses: string[];
  nodes: RedisNode[];
  sentinels: RedisNode[];
  /** The port the sentinels currently name as master. */
  masterPort(): Promise<number>;
  /** kill -9 the current master; resolves with its port. */
  killMaster(): Promise<number>;
  stopSentinels(): Promise<void>;
  startSentinels(): Promise<void>;
  /** Waits until the sentinels name a master other than `oldPort` (bounded). */
  waitForNewMaster(oldPort: number, timeoutMs?: number): Promise<number>;
  stop(): Promise<void>;
}

function spawnRedis(args: string[], sentinel = false): ChildProcess {
  return spawnTracked(sentinel ? 'redis-sentinel' : 'redis-server', args, { stdio: 'ignore' });
}

async function stopProc(proc: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const gone = new Promise<void>((r) => proc.once('exit', () => r()));
  proc.kill(signal);
  const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
  await gone;
  clearTimeout(t);
}

export async function startSentinelTopology(dir: string): Promise<SentinelTopology> {
  const nodes: RedisNode[] = [];
  const sentinels: RedisNode[] = [];
  const masterPort = await freePort();
  for (let i = 0; i < 3; i++) {
    const port = i === 0 ? masterPort : await freePort();
    const nodeDir = join(dir, `redis-${port}`);
    mkdirSync(nodeDir, { recursive: true });
    const args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      nodeDir,
      ...JOB_KEEPING_REDIS_ARGS,
      '--replica-announce-ip',
      '127.0.0.1',
    ];
    if (i > 0) args.push('--replicaof', '127.0.0.1', String(masterPort));
    nodes.push({ port, proc: spawnRedis(args) });
    await waitForRedis(`redis://127.0.0.1:${port}`);
  }
  const sentinelPorts: number[] = [];
  for (let i = 0; i < 3; i++) sentinelPorts.push(await freePort());
  const startSentinel = (port: number) => {
    const conf = join(dir, `sentinel-${port}.conf`);
    writeFileSync(
      conf,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        'sentinel resolve-hostnames no',
        'sentinel announce-ip 127.0.0.1',
        `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${masterPort} 2`,
        `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
        `sentinel failover-timeout ${MASTER_NAME} 5000`,
        `sentinel parallel-syncs ${MASTER_NAME} 2`,
        '',
      ].join('\n'),
      { flag: 'wx' },
    );
    return spawnRedis([conf], true);
  };
  for (const port of sentinelPorts) sentinels.push({ port, proc: startSentinel(port) });
  for (const s of sentinels) await waitForRedis(`redis://127.0.0.1:${s.port}`);

  const askMaster = async (): Promise<number | undefined> => {
    for (const s of sentinels) {
      const c = new Redis({ port: s.port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      c.on('error', () => {});
      try {
        await c.connect();
        const reply = (await c.call('SENTINEL', 'get-master-addr-by-name', MASTER_NAME)) as string[] | null;
        if (reply) return Number(reply[1]);
      } catch {
        /* try the next sentinel */
      } finally {
        c.disconnect();
      }
    }
    return undefined;
  };
  // Replicas in sync and every sentinel aware of the others before anything depends on a failover.
  const until = Date.now() + 20_000;
  for (;;) {
    const info = await infoOf(masterPort, 'replication');
    const synced = (info.match(/state=online/g) ?? []).length === 2;
    const known = await Promise.all(sentinels.map((s) => sentinelCount(s.port)));
    if (synced && known.every((n) => n >= 2)) break;
    if (Date.now() > until) throw new Error('sentinel topology did not settle in 20 s');
    await sleep(200);
  }

  return {
    sentinelAddresses: sentinelPorts.map((p) => `127.0.0.1:${p}`),
    nodes,
    sentinels,
    async masterPort() {
      const p = await askMaster();
      if (p === undefined) throw new Error('no sentinel answered');
      return p;
    },
    async killMaster() {
      const port = (await askMaster())!;
      const node = nodes.find((n) => n.port === port)!;
      await stopProc(node.proc, 'SIGKILL');
      return port;
    },
    async stopSentinels() {
      await Promise.all(sentinels.map((s) => stopProc(s.proc)));
    },
    async startSentinels() {
      for (const s of sentinels) s.proc = spawnRedis([join(dir, `sentinel-${s.port}.conf`)], true);
      for (const s of sentinels) await waitForRedis(`redis://127.0.0.1:${s.port}`);
    },
    async waitForNewMaster(oldPort, timeoutMs = 30_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const p = await askMaster();
        if (p !== undefined && p !== oldPort) {
          const role = await infoOf(p, 'replication').catch(() => '');
          if (role.includes('role:master')) return p;
        }
        if (Date.now() > end) throw new Error(`no new master within ${timeoutMs} ms`);
        await sleep(100);
      }
    },
    async stop() {
      await Promise.all([...sentinels, ...nodes].map((n) => stopProc(n.proc)));
    },
  };
}

async function infoOf(port: number, section: string): Promise<string> {
  const c = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  c.on('error', () => {});
  try {
    await c.connect();
    return await c.info(section);
  } finally {
    c.disconnect();
  }
}

async function sentinelCount(port: number): Promise<number> {
  const c = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  c.on('error', () => {});
  try {
    await c.connect();
    const reply = (await c.call('SENTINEL', 'sentinels', MASTER_NAME)) as unknown[];
    return reply.length;
  } catch {
    return 0;
  } finally {
    c.disconnect();
  }
}
