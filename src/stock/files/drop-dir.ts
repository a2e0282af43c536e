// receiver.dropDir: each file that appears in <dropDir>/<shop id>/ is stored as an upload of that
// shop, applied through the queue, then moved to <shop>/done/ or <shop>/failed/ with a .result beside it.
import { readdirSync, statSync, readFileSync, renameSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Queue } from 'bullmq';
import type { Config } from '../../config/schema.js';
import type { Logger } from '../../observe/logger.js';
import type { ApplyJobData } from '../../queue/names.js';
import type { UploadStore } from '../store.js';
import { enqueueApply, waitApplied } from '../apply/enqueue.js';
import { storeStockFile } from './stock-file.js';
import { SKIP_REASONS } from '../skip-reasons.js';

const SETTLE_MS = 1000; // a file younger than this may still be being written
const APPLY_WAIT_MS = 10 * 60_000;

export class DropDirWatcher {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;

  constructor(private readonly cfg: Config, private readonly store: UploadStore, private readonly queue: Queue<ApplyJobData>, private readonly log: Logger, private readonly pollMs = 2000) {}

  start(): void {
    const dir = this.cfg.receiver.dropDir!;
    for (const shop of this.cfg.shops) mkdirSync(join(dir, shop.id), { recursive: true });
    const tick = () => {
      if (this.stopped) return;
      this.running = this.scan().catch((err) => this.log.error({ err: (err as Error).message }, 'drop folder scan failed'))
        .finally(() => { if (!this.stopped) this.timer = setTimeout(tick, this.pollMs); });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private async scan(): Promise<void> {
    for (const shop of this.cfg.shops) {
      const folder = join(this.cfg.receiver.dropDir!, shop.id);
      if (!existsSync(folder)) continue;
      for (const name of readdirSync(folder).sort()) {
        if (this.stopped) return;
        const path = join(folder, name);
        if (name.startsWith('.') || name.endsWith('.tmp')) continue;
        const st = statSync(path);
        if (!st.isFile() || Date.now() - st.mtimeMs < SETTLE_MS) continue;
        await this.take(shop.id, folder, name);
      }
    }
  }

  private async take(shopId: string, folder: string, name: string): Promise<void> {
    const path = join(folder, name);
    let verdict: string;
    let target: 'done' | 'failed' = 'done';
    try {
      const uploadId = storeStockFile(this.store, shopId, name, readFileSync(path));
      this.log.info({ uploadId, file: path }, 'stock file stored');
      await enqueueApply(this.queue, uploadId);
      const applied = await waitApplied(this.store, uploadId, APPLY_WAIT_MS, 100);
      const row = this.store.get(uploadId)!;
      verdict = applied
        ? [`upload ${uploadId}: applied ${row.applied_count}, skipped ${row.skipped_count}`,
          ...this.store.reportedSkips(uploadId, SKIP_REASONS)
            .map((s) => `${s.reason}(product_code=${s.code})`)].join('\n')
        : `upload ${uploadId}: stored, not yet applied (see: zaiko-bridge uploads show ${uploadId})`;
    } catch (err) {
      target = 'failed';
      verdict = `failed: ${(err as Error).message}`;
      this.log.warn({ file: path, err: (err as Error).message }, 'stock file refused');
    }
    mkdirSync(join(folder, target), { recursive: true });
    renameSync(path, join(folder, target, name));
    writeFileSync(join(folder, target, `${name}.result`), verdict + '\n');
  }
}
