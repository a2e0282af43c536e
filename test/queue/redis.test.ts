// The Redis module against real servers: the eviction-policy warning and a fail-fast connect.
import { describe, it, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { connectOrFail, checkEvictionPolicy } from '../../src/queue/redis.js';
import { freePort, waitForRedis } from '../helpers/net.js';
import { BridgeError } from '../../src/errors/codes.js';

function capture() {
  const lines: any[] = [];
  const log = pino({ level: 'info' }, new Writable({ write(c, _e, cb) { lines.push(JSON.parse(String(c))); cb(); } }));
  return { log, lines };
}

describe('redis connections', () => {
  it('warns loudly when the server may evict BullMQ keys, and not when noeviction', async () => {
    const port = await freePort();
    const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--maxmemory-policy', 'allkeys-lru'],
      { stdio: 'ignore' });
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
});
