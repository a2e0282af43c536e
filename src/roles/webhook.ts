// Where the webhook pusher runs: in a stock worker (the stock.db writer; under `start` and as its own
// unit). Of several workers on one dataDir exactly one pushes: the one holding the dataDir's `webhook`
// lock (an fcntl lock the kernel drops when its process dies, even by kill -9). The others stand by
// and try again every few seconds, so a restart or a second worker takes over within that time.
// The pusher has its own stock.db connection with synchronous=NORMAL: a cursor move lost to a power
// cut only sends that batch again (the cart applies a change once by its id), and each batch costs
// one fsync less (6.5 ms on this host, a quarter of a batch's time).
import type { Config } from '../config/schema.js';
import type { ConfigHolder } from '../config/holder.js';
import { openDb, type DB } from '../db/open.js';
import { BridgeError } from '../errors/codes.js';
import type { Logger } from '../observe/logger.js';
import { WebhookPusher, type PusherOptions } from '../stock/webhook/pusher.js';
import { DataDirLock } from './data-dir-lock.js';

const STANDBY_RETRY_MS = 3000;

export interface RunningPusher {
  /** New changes may be there. */
  wake(): void;
  close(): Promise<void>;
}

/** `dataDir` is read once (a restart key); the shops and their webhooks at every round (a reload adds or changes them). */
export function startWebhookPusher(config: Config | ConfigHolder, dataDir: string, log: Logger, opts: PusherOptions = {}): RunningPusher {
  let lock: DataDirLock | undefined;
  let pusher: WebhookPusher | undefined;
  let db: DB | undefined;
  let standby: NodeJS.Timeout | undefined;
  const tryTake = () => {
    try {
      lock = DataDirLock.take(dataDir, ['webhook']);
    } catch (err) {
      if (!standby) {
        log.info({ why: (err as Error).message }, 'webhook pusher on standby: another worker pushes');
        standby = setInterval(tryTake, STANDBY_RETRY_MS);
      }
      if (!(err instanceof BridgeError && err.code === 'DATA_DIR_IN_USE')) log.error({ err: (err as Error).message }, 'webhook lock');
      return;
    }
    clearInterval(standby);
    db = openDb(dataDir, 'stock', { synchronous: 'NORMAL' });
    pusher = new WebhookPusher(config, db, log, opts);
    pusher.start();
  };
  tryTake();
  return {
    wake: () => pusher?.wake(),
    async close() {
      clearInterval(standby);
      await pusher?.close();
      db?.close();
      lock?.release();
    },
  };
}
