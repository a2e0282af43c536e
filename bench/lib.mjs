// Shared bench helpers: temp dirs, a private redis-server, medians, peak RSS.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
export const peakRssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);

export function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

/**
 * A throwaway redis-server on loopback TCP; with `dir`, set up as `start`'s private one is instead
 * (src/queue/embedded-redis.ts): unix socket, AOF fsynced every second, files in `dir`.
 */
export async function startRedis({ dir } = {}) {
  const port = await freePort();
  const socket = dir && join(dir, 'redis.sock');
  const args = dir
    ? ['--port', '0', '--unixsocket', socket, '--unixsocketperm', '700', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec']
    : ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  const proc = spawn('redis-server', [...args, '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' });
  const url = dir ? `unix://${socket}` : `redis://127.0.0.1:${port}`;
  const options = dir ? { path: socket } : { host: '127.0.0.1', port };
  for (let i = 0; i < 200; i++) {
    const c = new Redis({ ...options, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    c.on('error', () => {});
    try { await c.connect(); await c.ping(); c.disconnect(); return { url, stop: () => proc.kill('SIGTERM') }; } catch { c.disconnect(); await new Promise((r) => setTimeout(r, 50)); }
  }
  throw new Error('redis-server did not start');
}
