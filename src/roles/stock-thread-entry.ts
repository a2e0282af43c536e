// Inside the stock thread of `start` (roles/stock-thread.ts): the stock worker role with its own
// stock.db connection and Redis connections, and the upload endpoint's work (roles/stock-thread-uploads.ts).
// `start` holds the dataDir's worker part for it.
import { parentPort, workerData } from 'node:worker_threads';
import { ConfigHolder, deepFreeze } from '../config/holder.js';
import { createLogger } from '../observe/logger.js';
import { lowerThreadPriority } from '../observe/thread-priority.js';
import { startWorker } from './worker.js';
import { startThreadUploads } from './stock-thread-uploads.js';
import type { StockThreadData, StockThreadMessage } from './stock-thread.js';

const { cfg, redis, logLevel } = workerData as StockThreadData;
const port = parentPort!;
const post = (m: StockThreadMessage) => port.postMessage(m);
// Jobs and uploads read the holder at their start; the main thread posts each reload.
const holder = new ConfigHolder(cfg);
const log = createLogger(logLevel).child({ thread: 'stock' });
lowerThreadPriority(); // SMTP and HTTP answers first when both want a core (observe/thread-priority.ts)
const role = await startWorker(holder, redis, log, {
  dataDirLocked: true,
  watchdog: { onRecreated: () => post({ type: 'recreated' }), onProblem: (problem) => post({ type: 'problem', problem }) },
});
const uploads = startThreadUploads(holder, redis, log, post);

port.on('message', async (m: StockThreadMessage) => {
  if (m.type === 'config') {
    holder.replace(deepFreeze(m.cfg)); // a structured clone: frozen again, as every config is
    log.level = m.logLevel;
  }
  if (m.type === 'upload' || m.type === 'count-late') return uploads.onMessage(m);
  if (m.type !== 'close') return;
  await role.close();
  await uploads.close();
  port.close(); // nothing left to run: the thread exits, which is what the main thread waits for
});
post({ type: 'ready' });
