// Durability of the accept commit: the ledger connection that accepts commits with synchronous=NORMAL
// (no fsync inside COMMIT), then this fdatasync of the -wal file runs before the 250. Same guarantee as
// synchronous=FULL: the frames of every acknowledged commit are on disk (or already checkpointed into
// the fsynced database file). GroupCommit calls it once per group, never two at a time.
//
// Where it runs: an fdatasync of a few WAL frames takes ~0.1 ms on an SSD, while handing it to libuv's
// pool and back costs two thread wake-ups (~0.3 ms more per accept on the 2-core VM, bench/README.md).
// So it runs on the calling thread while the disk is that fast, and in the pool (the event loop free
// for other sessions) once one took longer than INLINE_LIMIT_MS: a slow or busy disk then blocks the
// event loop for one fsync per INLINE_RETRY syncs at most.
import { fdatasyncSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

const INLINE_LIMIT_MS = 1;
const INLINE_RETRY = 1000;

export class WalSync {
  private handle?: Promise<FileHandle>;
  /** Syncs left to hand to the pool before one is tried inline again. */
  private pooled = 0;

  constructor(
    private readonly walPath: string,
    /** Tests set it below zero: every inline sync then counts as slow. */
    private readonly inlineLimitMs = INLINE_LIMIT_MS,
  ) {}

  /** How many syncs go to the pool before one runs inline again (0: inline now). */
  get pooledSyncsLeft(): number {
    return this.pooled;
  }

  /** Resolves once the WAL file, as it is now, is on disk. */
  async sync(): Promise<void> {
    this.handle ??= open(this.walPath, 'r');
    const handle = await this.handle;
    if (this.pooled > 0) {
      this.pooled--;
      return handle.datasync();
    }
    const started = performance.now();
    fdatasyncSync(handle.fd);
    if (performance.now() - started > this.inlineLimitMs) this.pooled = INLINE_RETRY;
  }

  async close(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    if (h) await (await h).close().catch(() => {});
  }
}
