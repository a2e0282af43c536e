// Loopback helpers: a free port, waiting for a Redis to answer, starting a throwaway redis-server.
import { createServer } from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export async function waitForRedis(url: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const c = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    c.on('error', () => {});
    try {
      await c.connect();
      await c.ping();
      c.disconnect();
      return;
    } catch {
      c.disconnect();
      if (Date.now() > until) throw new Error(`redis at ${url} did not answer`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** A redis-server of the test's own (for tests that stop and start Redis). */
export async function startRedis(port: number, dir?: string): Promise<{ url: string; proc: ChildProcess; stop(): Promise<void> }> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--maxmemory-policy', 'noeviction'];
  if (dir) args.push('--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always');
  else args.push('--appendonly', 'no');
  const proc = spawn('redis-server', args, { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  await waitForRedis(url);
  return {
    url, proc,
    stop: () => new Promise((r) => { if (proc.exitCode !== null) return r(); proc.once('exit', () => r()); proc.kill('SIGTERM'); }),
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until<T>(check: () => T | Promise<T>, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}
