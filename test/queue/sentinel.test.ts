// Redis Sentinel and redis.prefix: the config rules, and the roles and operator commands against a real
// master + 2 replicas + 3 redis-sentinel on loopback, with a key prefix of their own.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { Redis } from 'ioredis';
import { validateConfig } from '../../src/config/load.js';
import { redisSpec } from '../../src/queue/redis.js';
import { startRelay } from '../../src/roles/relay.js';
import { startReceiver } from '../../src/roles/receiver.js';
import { startWorker } from '../../src/roles/worker.js';
import { tempDir, testConfig, uniqueName, log, SHOP } from '../helpers/env.js';
import { startSink, sendMail, type Sink } from '../helpers/smtp.js';
import { post, form, auth, items } from '../helpers/http.js';
import { run, runAsync } from '../helpers/cli.js';
import { until } from '../helpers/net.js';
import { startSentinelTopology, MASTER_NAME, type SentinelTopology } from '../helpers/sentinel.js';
import { requireTool } from '../helpers/processes.js';

const problems = (raw: Record<string, unknown>) => {
  try {
    validateConfig({ shops: [SHOP], ...raw }, '/tmp', {});
    return [];
  } catch (err) {
    return String((err as Error).message).split('\n');
  }
};

describe('config: redis.sentinels, masterName, prefix', () => {
  it('defaults to no sentinels, mymaster and the bull prefix', () => {
    const cfg = validateConfig({ shops: [SHOP] }, '/tmp', {});
    expect(cfg.redis).toEqual({ url: '', sentinels: [], masterName: 'mymaster', prefix: 'bull' });
  });
  it('refuses a url next to sentinels, and sentinels not written host:port', () => {
    expect(problems({ redis: { url: 'redis://127.0.0.1:6379', sentinels: ['127.0.0.1:26379'] } })).toContain(
      'redis.url: must be empty when redis.sentinels is set (the sentinels name the master)',
    );
    const bad = problems({ redis: { sentinels: ['127.0.0.1', 'host:0', 'a b:1', '[::1]:26379', 'redis-s1.lan:26379'] } });
    expect(bad.filter((l) => l.includes('must be host:port'))).toHaveLength(3);
    expect(bad.join('\n')).toMatch(/redis\.sentinels\[0\]: must be host:port/);
    expect(problems({ redis: { prefix: 'a:b' } }).join('\n')).toMatch(/redis\.prefix: must be non-empty/);
    expect(problems({ redis: { prefix: '{zb}' } })).toEqual([]);
  });
  it('turns the sentinels into the spec every role and command gets', () => {
    const cfg = validateConfig({ shops: [SHOP], redis: { sentinels: ['10.0.0.5:26379', '[::1]:26380'], masterName: 'm1' } }, '/tmp', {});
    expect(redisSpec(cfg)).toEqual({
      sentinels: [
        { host: '10.0.0.5', port: 26379 },
        { host: '::1', port: 26380 },
      ],
      masterName: 'm1',
    });
  });
});

describe('roles and commands through Redis Sentinel', () => {
  let t: ReturnType<typeof tempDir>;
  let topo: SentinelTopology;
  let sink: Sink;
  beforeAll(async () => {
    requireTool('redis-sentinel'); // missing: fails naming the package, never skipped
    t = tempDir();
    topo = await startSentinelTopology(t.dir);
    sink = await startSink();
  });
  afterAll(async () => {
    await sink?.close();
    await topo?.stop();
    t?.cleanup();
  });

  it('relay, receiver and worker work through the sentinels under their own key prefix', async () => {
    const prefix = uniqueName('zbt');
    const cfg = testConfig(join(t.dir, 'roles'), {
      upstream: { port: sink.port },
      redis: { sentinels: topo.sentinelAddresses, masterName: MASTER_NAME, prefix },
    });
    const spec = redisSpec(cfg);
    const relay = await startRelay(cfg, spec, log);
    const receiver = await startReceiver(cfg, spec, log);
    const worker = await startWorker(cfg, spec, log);
    try {
      await sendMail({
        port: relay.port!,
        from: 'order@croft-zakka.example.jp',
        to: ['customer@example.net'],
        raw: 'Subject: hello\r\n\r\nhi\r\n',
      });
      await until(() => sink.messages.some((m) => m.to.includes('customer@example.net')), 20_000, 'delivery');
      const r = await post(receiver.port!, '/api/zaikorobot.php', form([...auth, ...items([['P1', '3']])]));
      expect(r.status).toBe(200);
      const master = new Redis({ port: await topo.masterPort(), host: '127.0.0.1' });
      const keys = await master.keys(`${prefix}:*`);
      master.disconnect();
      expect(keys.some((k) => k.startsWith(`${prefix}:mail-${cfg.instance}:`))).toBe(true);
      expect(keys.some((k) => k.startsWith(`${prefix}:stock:`))).toBe(true);
    } finally {
      await worker.close();
      await receiver.close();
      await relay.close();
    }
  });

  it('start runs no private Redis, and queue stats reads through the sentinels', async () => {
    const dir = join(t.dir, 'start');
    const config = join(t.dir, 'start.yaml');
    const instance = uniqueName('s');
    writeFileSync(
      config,
      stringify({
        dataDir: './start',
        instance,
        redis: { sentinels: topo.sentinelAddresses, masterName: MASTER_NAME, prefix: 'zbstart' },
        relay: { port: 0 },
        receiver: { port: 0 },
        upstream: { port: sink.port },
        shops: [SHOP],
      }),
    );
    const proc = runAsync(['start', '--config', config]);
    let err = '';
    proc.stderr!.on('data', (d) => (err += d));
    try {
      await until(() => err.includes('zaiko-bridge started'), 30_000, 'start');
      expect(existsSync(join(dir, 'redis.sock'))).toBe(false);
      expect(err).not.toContain('private redis-server');
      const stats = run(['queue', 'stats', '--json', '--config', config]);
      expect(stats.stderr).toBe('');
      expect(stats.code).toBe(0);
      expect(JSON.parse(stats.stdout).queues.map((q: { name: string }) => q.name)).toContain(`mail-${instance}`);
    } finally {
      await new Promise<void>((r) => {
        if (proc.exitCode !== null) return r();
        proc.once('exit', () => r());
        proc.kill('SIGTERM');
      });
    }
  });

  it('an operator command names the sentinels when none answers', () => {
    const config = join(t.dir, 'down.yaml');
    writeFileSync(config, stringify({ dataDir: './down', redis: { sentinels: ['127.0.0.1:1'], masterName: MASTER_NAME }, shops: [SHOP] }));
    const r = run(['queue', 'stats', '--config', config]);
    expect(r.code).toBe(69);
    expect(r.stderr).toContain(`sentinel ${MASTER_NAME} via 127.0.0.1:1`);
  });
});
