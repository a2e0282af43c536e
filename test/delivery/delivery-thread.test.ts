// The relay's delivery thread: a thread that dies is restarted and /readyz says so meanwhile; a
// first start that fails is reported to the caller and not retried behind its back.
import { afterAll, describe, expect, inject, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import { DeliveryThread } from '../../src/delivery/thread.js';
import { log, tempDir, testConfig, uniqueName } from '../helpers/env.js';
import { sleep } from '../helpers/net.js';

const redisUrl = inject('redisUrl');
const t = tempDir();
afterAll(() => t.cleanup());
const until = async (cond: () => boolean, ms: number) => {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(20);
};
/** The messages the main thread logs. */
function capture() {
  const msgs: string[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(c, _e, cb) {
        msgs.push(JSON.parse(String(c)).msg);
        cb();
      },
    }),
  );
  return { logger, msgs };
}

describe('delivery thread', () => {
  it('comes back after it dies; readiness reports the gap', async () => {
    const thread = new DeliveryThread(
      {
        cfg: testConfig(join(t.dir, 'ok')),
        redis: { url: redisUrl },
        queueName: uniqueName('mail'),
        stockQueueName: uniqueName('stock'),
        logLevel: 'silent',
      },
      log,
    );
    await thread.start();
    expect(thread.problem()).toBeUndefined();
    await (thread as unknown as { worker: Worker }).worker.terminate(); // as if it had crashed
    expect(thread.problem()).toMatch(/delivery thread not running/);
    await until(() => thread.problem() === undefined, 10_000);
    expect(thread.problem()).toBeUndefined();
    await thread.close();
  });

  it('rejects a first start that fails (the data dir is a file) and does not retry it', async () => {
    const notADir = join(t.dir, 'file');
    writeFileSync(notADir, 'x');
    const { logger, msgs } = capture();
    const thread = new DeliveryThread(
      {
        cfg: testConfig(notADir),
        redis: { url: redisUrl },
        queueName: uniqueName('mail'),
        stockQueueName: uniqueName('stock'),
        logLevel: 'silent',
      },
      logger,
    );
    await expect(thread.start()).rejects.toThrow(/ENOTDIR|EEXIST|cannot open/);
    await sleep(2500); // past the restart delay (1 s) and a second start's failure
    // A retry would log "restarting" at the exit and fail again: one failure, no restart, no thread.
    expect(msgs.filter((m) => m === 'delivery thread failed')).toHaveLength(1);
    expect(msgs.filter((m) => /restarting/.test(m))).toEqual([]);
    expect((thread as unknown as { worker?: Worker }).worker).toBeUndefined();
    expect(thread.problem()).toMatch(/not running/);
    await thread.close();
  });
});
