// Where the webhook pusher runs: in a stock worker (the stock.db writer; under `start` and as its own
// unit). Of several workers on one dataDir exactly one pushes: the one holding the dataDir's `webhook`
// lock (an fcntl lock the kernel drops when its process dies, even by kill -9). The others stand by
// and try again every few seconds, so a restart or a second worker takes over within that time.
import type { Config } from '../config/schema.js';
import type { ConfigHolder } from '../config/holder.js';
import type { DB } from '../db/open.js';
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
export function startWebhookPusher(
  config: Config | ConfigHolder,
  dataDir: string,
  db: DB,
  log: Logger,
  opts: PusherOptions = {},
): RunningPusher {
  let lock: DataDirLock | undefined;
  let pusher: WebhookPusher | undefined;
  let standby: NodeJS.Timeout | undefined;
  const tryTake = () => {
    try {
      lock = DataDirLock.take(dataDir, ['webhook']);
    } catch (err) {
      if (!(err instanceof BridgeError && err.code === 'DATA_DIR_IN_USE')) throw err;
      if (!standby) {
        log.info({ why: err.message }, 'webhook pusher on standby: another worker pushes');
        standby = setInterval(tryTake, STANDBY_RETRY_MS);
      }
      return;
    }
    clearInterval(standby);
    pusher = new WebhookPusher(config, db, log, opts);
    pusher.start();
  };
  tryTake();
  return {
    wake: () => pusher?.wake(),
    async close() {
      clearInterval(standby);
      await pusher?.close();
      lock?.release();
    },
  };
}
