// receiver.dropDir: each file that appears in <dropDir>/<shop id>/ is stored as an upload of that
// shop, applied through the queue, then moved to <shop>/done/ or <shop>/failed/ with a .result beside it.
// A file is one upload however often it is read (stock_files, see file-store.ts): a scan never waits
// for an apply, it stores, enqueues and moves what is finished, so Redis being down never stops storing.
// Only regular files are read, without following symlinks and never more than receiver.maxBytes;
// anything else goes to failed/ with the reason.
import {
  readdirSync,
  lstatSync,
  renameSync,
  mkdirSync,
  existsSync,
  rmSync,
  openSync,
  writeSync,
  fsyncSync,
  closeSync,
  type Stats,
} from 'node:fs';
import { join } from 'node:path';
import type { Queue } from 'bullmq';
import type { Config } from '../../config/schema.js';
import { configOf, type ConfigHolder } from '../../config/holder.js';
import type { Logger } from '../../observe/logger.js';
import type { ApplyJobData } from '../../queue/names.js';
import type { UploadStore } from '../store.js';
import { enqueueApply } from '../apply/enqueue.js';
import { takeStockFile, StockFileError } from './stock-file.js';
import { StockFileStore } from './file-store.js';
import { readRegularFile, DropRefusal, kindOf } from './read-bounded.js';
import { SKIP_REASONS } from '../../errors/skip-reasons.js';

const SETTLE_MS = 1000; // a file younger than this may still be being written
const APPLY_WAIT_MS = 10 * 60_000; // then it moves to done/ as "stored, not yet applied" (the sweep applies it)
const TARGETS = ['done', 'failed'] as const;
type Target = (typeof TARGETS)[number];

/** A file taken in this process: while it is unchanged on disk, the next scan need not read it again. */
interface Taken {
  fileId: number;
  uploadId: number;
  takenAt: number;
  enqueued: boolean;
  ino: number;
  size: number;
  mtimeMs: number;
}

export class DropDirWatcher {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;
  private readonly files: StockFileStore;
  private readonly taken = new Map<string, Taken>();

  constructor(
    private readonly config: Config | ConfigHolder,
    private readonly store: UploadStore,
    private readonly queue: Queue<ApplyJobData>,
    private readonly log: Logger,
    private readonly pollMs = 2000,
  ) {
    this.files = new StockFileStore(store);
  }

  /** The current config (a scan takes its shop list once, at its start: a shop added by a reload is read from the next scan). */
  private get cfg(): Config {
    return configOf(this.config);
  }

  start(): void {
    const dir = this.cfg.receiver.dropDir!;
    for (const shop of this.cfg.shops) mkdirSync(join(dir, shop.id), { recursive: true, mode: 0o750 });
    this.reconcile();
    const tick = () => {
      if (this.stopped) return;
      this.running = this.scan()
        .catch((err) => this.log.error({ err: (err as Error).message }, 'drop folder scan failed'))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.pollMs);
        });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** Open files no longer in the folder were moved before a crash could record it: finish them. */
  private reconcile(): void {
    for (const f of this.files.open('drop')) {
      if (!existsSync(join(this.cfg.receiver.dropDir!, f.shopId, f.name))) this.files.finish(f.id);
    }
  }

  private async scan(): Promise<void> {
    for (const shop of this.cfg.shops) {
      const folder = join(this.cfg.receiver.dropDir!, shop.id);
      if (!existsSync(folder)) continue;
      for (const name of readdirSync(folder).sort()) {
        if (this.stopped) return;
        if (name.startsWith('.') || name.endsWith('.tmp') || (TARGETS as readonly string[]).includes(name)) continue;
        const path = join(folder, name);
        let st: Stats;
        try {
          st = lstatSync(path);
        } catch {
          continue;
        } // gone meanwhile
        if (Date.now() - st.mtimeMs < SETTLE_MS) continue;
        try {
          await this.take(shop.id, folder, name, st);
        } catch (err) {
          if (!(err instanceof DropRefusal) && !(err instanceof StockFileError)) throw err;
          this.log.warn({ file: path, err: err.message }, 'stock file refused');
          this.finish(folder, name, 'failed', `failed: ${err.message}`);
        }
      }
    }
  }

  private async take(shopId: string, folder: string, name: string, st: Stats): Promise<void> {
    const path = join(folder, name);
    if (!st.isFile()) throw new DropRefusal(`${kindOf(st)}, not a regular file`);
    let t = this.taken.get(path);
    if (!t || t.ino !== st.ino || t.size !== st.size || t.mtimeMs !== st.mtimeMs) {
      const { bytes, stat } = readRegularFile(path, this.cfg.receiver.maxBytes);
      const file = takeStockFile(this.files, shopId, 'drop', name, bytes);
      this.log.info(
        { uploadId: file.uploadId, file: path, again: file.again },
        file.again ? 'stock file read again: its stored upload' : 'stock file stored',
      );
      t = {
        fileId: file.id,
        uploadId: file.uploadId,
        takenAt: file.takenAt,
        enqueued: false,
        ino: stat.ino,
        size: stat.size,
        mtimeMs: stat.mtimeMs,
      };
      this.taken.set(path, t);
    }
    const row = this.store.get(t.uploadId)!;
    if (row.status !== 'applied' && !t.enqueued) t.enqueued = await enqueueApply(this.queue, t.uploadId);
    if (row.status === 'applied') {
      this.finish(
        folder,
        name,
        'done',
        [
          `upload ${t.uploadId}: applied ${row.applied_count}, skipped ${row.skipped_count}`,
          ...this.store.reportedSkips(t.uploadId, SKIP_REASONS).map((s) => `${s.reason}(product_code=${s.code})`),
        ].join('\n'),
        t.fileId,
      );
    } else if (Date.now() - t.takenAt > APPLY_WAIT_MS) {
      this.finish(
        folder,
        name,
        'done',
        `upload ${t.uploadId}: stored, not yet applied (see: zaiko-bridge uploads show ${t.uploadId})`,
        t.fileId,
      );
    }
  }

  /**
   * Moves the entry (a symlink or FIFO itself, never what it points to) and writes its .result, both
   * durable, and only then finishes its stock_files row: a crash before that finds the row open again.
   */
  private finish(folder: string, name: string, target: Target, verdict: string, fileId?: number): void {
    const dir = targetDir(folder, target);
    const moved = freeName(dir, name);
    renameSync(join(folder, name), join(dir, moved));
    writeResult(dir, `${moved}.result`, verdict + '\n');
    fsyncDir(dir);
    fsyncDir(folder);
    if (fileId !== undefined) this.files.finish(fileId);
    this.taken.delete(join(folder, name));
  }
}

/**
 * retention.dropDays: an entry of done/ or failed/ goes, with its .result, once that .result (written
 * when the entry was moved there; a moved file keeps its own old mtime) is older than `days`; an entry
 * or a .result without its pair goes by its own age. Entries are removed, never followed (lstat).
 * Returns how many went.
 */
export function pruneDropDir(cfg: Config, days: number, now = Date.now()): number {
  const before = now - days * 86_400_000;
  const dropDir = cfg.receiver.dropDir;
  if (!dropDir) return 0;
  let removed = 0;
  for (const shop of cfg.shops) {
    for (const target of TARGETS) {
      const dir = join(dropDir, shop.id, target);
      if (!isRealDirectory(dir)) continue;
      const names = new Set(readdirSync(dir));
      for (const name of names) {
        const paired = name.endsWith('.result') && names.has(name.slice(0, -'.result'.length));
        if (paired) continue; // goes with its entry
        const result = names.has(`${name}.result`) ? `${name}.result` : name;
        const mtime = lstatOrUndefined(join(dir, result))?.mtimeMs;
        if (mtime === undefined || mtime >= before) continue;
        rmSync(join(dir, name), { recursive: true, force: true });
        if (result !== name) rmSync(join(dir, result), { force: true });
        removed++;
      }
    }
  }
  return removed;
}

function isRealDirectory(dir: string): boolean {
  return lstatOrUndefined(dir)?.isDirectory() ?? false;
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

/** done/ or failed/, a real directory: a symlink there could send files anywhere. */
function targetDir(folder: string, target: Target): string {
  const dir = join(folder, target);
  mkdirSync(dir, { recursive: true, mode: 0o750 });
  if (!lstatSync(dir).isDirectory()) throw new Error(`${dir} is not a directory (a symlink?): nothing moved there`);
  return dir;
}

/** The name, or name.<n> when an earlier file of that name is there already: no record is overwritten. */
function freeName(dir: string, name: string): string {
  let candidate = name;
  for (let n = 1; exists(join(dir, candidate)) || exists(join(dir, `${candidate}.result`)); n++) candidate = `${name}.${n}`;
  return candidate;
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Written to a fresh temp file (O_EXCL: never through a planted symlink), fsynced, renamed in place. */
function writeResult(dir: string, name: string, text: string): void {
  const tmp = join(dir, `.${name}.tmp`);
  rmSync(tmp, { force: true });
  const fd = openSync(tmp, 'wx', 0o640);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, join(dir, name));
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
