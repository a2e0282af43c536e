// Starts one real redis-server for the whole run (no persistence, a free port); tests get its URL via
// inject('redisUrl') and keep to their own queue names and key prefixes.
import type { TestProject } from 'vitest/node';
import { freePort, waitForRedis } from './net.js';
import { spawnTracked, stopSpawned } from './processes.js';

export default async function setup(project: TestProject) {
  const port = await freePort();
  spawnTracked(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'],
    { stdio: 'ignore' },
  );
  const url = `redis://127.0.0.1:${port}`;
  await waitForRedis(url);
  project.provide('redisUrl', url);
  return async () => {
    await stopSpawned();
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}
