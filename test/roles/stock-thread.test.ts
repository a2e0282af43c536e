// The stock thread of `start` (src/roles/stock-thread.ts) dies alone: the process goes on, /readyz's
// check names it while it is down, and it is started again after the backoff's first delay, counted.
import { describe, it, expect, afterEach } from 'vitest';
import { writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { StockThread } from '../../src/roles/stock-thread.js';
import { Metrics } from '../../src/observe/metrics.js';
import { tempDir, log } from '../helpers/env.js';
import { until } from '../helpers/net.js';
import type { Config } from '../../src/config/schema.js';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'threads', 'crashing-stock-thread.mjs');
let t: ReturnType<typeof tempDir>;
let thread: StockThread | undefined;
afterEach(async () => {
  await thread?.close();
  t?.cleanup();
});

const restarts = async (metrics: Metrics) =>
  (await metrics.workerRestarts.get()).values.find((v) => v.labels.worker === 'stock')?.value ?? 0;

describe('stock thread', () => {
  it('a thread that throws is restarted after 1 s and counted; meanwhile its check names it', async () => {
    t = tempDir();
    const marker = join(t.dir, 'crash');
    writeFileSync(marker, '');
    const metrics = new Metrics();
    const data = { cfg: { crashMarker: marker } as unknown as Config, redis: { url: 'unused' }, logLevel: 'silent' };
    thread = new StockThread(data, log, metrics, FIXTURE);
    expect(thread.problem()).toBe('stock worker not running');
    thread.start();
    await until(() => thread!.problem() === undefined, 10_000, 'first thread up');
    await until(() => !existsSync(marker) && thread!.problem() === 'stock worker not running', 10_000, 'first thread died');
    expect(await restarts(metrics)).toBe(0);
    await until(() => thread!.problem() === undefined, 10_000, 'restarted');
    expect(await restarts(metrics)).toBe(1);
  });

  it('close() ends a running thread and nothing restarts it', async () => {
    t = tempDir();
    const metrics = new Metrics();
    const data = { cfg: { crashMarker: join(t.dir, 'none') } as unknown as Config, redis: { url: 'unused' }, logLevel: 'silent' };
    thread = new StockThread(data, log, metrics, FIXTURE);
    thread.start();
    await until(() => thread!.problem() === undefined, 10_000, 'up');
    await thread.close();
    expect(thread.problem()).toBe('stock worker not running');
    await new Promise((r) => setTimeout(r, 1500));
    expect(await restarts(metrics)).toBe(0);
    expect(thread.problem()).toBe('stock worker not running');
  });
});
