// The Redis module against real servers: the eviction-policy warning, a fail-fast connect, a bounded close.
import { describe, it, expect, inject } from 'vitest';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { connectOrFail, checkEvictionPolicy, closeRedis } from '../../src/queue/redis.js';
import { freePort, waitForRedis, startRedis } from '../helpers/net.js';
import { spawnTracked } from '../helpers/processes.js';
import { BridgeError } from '../../src/errors/codes.js';

function capture() {
  const lines: any[] = [];
  const log = pino(
    { level: 'info' },
    new Writable({
      write(c, _e, cb) {
        lines.push(JSON.parse(String(c)));
        cb();
      },
    }),
  );
  return { log, lines };
}

describe('redis connections', () => {
  it('warns loudly when the server may evict BullMQ keys, and not when noeviction', async () => {
    const port = await freePort();
    const proc = spawnTracked(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--maxmemory-policy', 'allkeys-lru'],
      { stdio: 'ignore' },
    );
    try {
      await waitForRedis(`redis://127.0.0.1:${port}`);
      const client = await connectOrFail(`redis://127.0.0.1:${port}`);
      const { log, lines } = capture();
      await checkEvictionPolicy(client, log);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ level: 40, policy: 'allkeys-lru' });
      expect(lines[0].msg).toContain('noeviction');
      await client.config('SET', 'maxmemory-policy', 'noeviction');
      await checkEvictionPolicy(client, log);
      expect(lines).toHaveLength(1);
      client.disconnect();
    } finally {
      proc.kill('SIGTERM');
    }
  });

  it('fails fast with REDIS_UNAVAILABLE (exit 69) on a dead address', async () => {
    const started = Date.now();
    const err = await connectOrFail(`redis://127.0.0.1:${await freePort()}`).catch((e) => e);
    expect(err).toBeInstanceOf(BridgeError);
    expect(err.exitCode).toBe(69);
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it('closeRedis lets a reply still in flight arrive, then the client ends', async () => {
    const client = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 });
    await client.ping();
    // A blocking pop on a key nobody fills: its reply (null) comes 0.3 s later, while the client is being closed.
    const inFlight = client.blpop(`close-test-${process.pid}`, 0.3);
    await closeRedis(client);
    await expect(inFlight).resolves.toBeNull();
    await new Promise<void>((r) => (client.status === 'end' ? r() : client.once('end', () => r()))); // the server closed after QUIT
    expect(client.status).toBe('end');
  });

  it("closeRedis returns on a Redis that never answers, and the socket is gone after ioredis's own bound", async () => {
    const redis = await startRedis(await freePort());
    const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    client.on('error', () => {});
    try {
      await client.ping();
      redis.proc.kill('SIGSTOP'); // the server keeps the socket open and answers nothing, QUIT included
      await closeRedis(client, 300);
      // disconnect() half-closes; ioredis destroys the socket after disconnectTimeout (2 s) if the server never closes.
      await new Promise<void>((r) => (client.status === 'end' ? r() : client.once('end', () => r())));
      expect(client.status).toBe('end');
    } finally {
      redis.proc.kill('SIGCONT');
      await redis.stop();
    }
  });
});
