// Inside `start`'s stock thread: the upload endpoint's work (parse, decode, password, store, enqueue, wait
// for the apply, answer lines), so a big upload never holds the main thread, where SMTP is answered. The
// main thread reads the body with its limits and hands it over (roles/thread-uploads.ts); the answer and
// the upload figures go back as messages.
import { Queue } from 'bullmq';
import type { ConfigHolder } from '../config/holder.js';
import { openDb } from '../db/open.js';
import type { Logger } from '../observe/logger.js';
import { closeQueue, closeRedis, createRedis, type RedisSpec } from '../queue/redis.js';
import { STOCK_QUEUE, type ApplyJobData } from '../queue/names.js';
import { UploadStore } from '../stock/store.js';
import { UploadHandler } from '../stock/receive/upload-handler.js';
import { ngAnswer } from '../errors/codes.js';
import type { StockThreadMessage } from './stock-thread.js';

export function startThreadUploads(holder: ConfigHolder, redisTarget: RedisSpec, log: Logger, post: (m: StockThreadMessage) => void) {
  const cfg = holder.get();
  const db = openDb(cfg.dataDir, 'stock');
  const redis = createRedis(redisTarget, 'client');
  const queue = new Queue<ApplyJobData>(STOCK_QUEUE, { connection: redis, prefix: cfg.redis.prefix });
  queue.on('error', (err) => log.warn({ err: err.message }, 'stock queue connection error'));
  // Its lockout counts the upload passwords checked here; the change feed's is the main thread's own.
  const handler = new UploadHandler(holder, new UploadStore(db), queue, log, {
    answered: (answer, seconds) => post({ type: 'answered', answer, seconds }),
    items: (outcome, reason, count) => post({ type: 'items', outcome, reason, count }),
  });
  return {
    async onMessage(m: StockThreadMessage): Promise<void> {
      if (m.type === 'count-late') {
        handler.countLateApplies(); // its figures are posted before the reply: the scrape sees them
        post({ type: 'counted', id: m.id });
      }
      if (m.type !== 'upload') return;
      const answer = await handler.handle(Buffer.from(m.body), m.contentType, m.client).catch((err: Error) => {
        log.error({ err: err.message }, 'receiver error');
        return { ...ngAnswer('STOCK_UNAVAILABLE'), charset: 'utf-8' as const }; // what server.ts answers to a throw
      });
      post({ type: 'answer', id: m.id, answer });
    },
    async close(): Promise<void> {
      await closeQueue(queue);
      await closeRedis(redis);
      db.close();
    },
  };
}
