// Durability of the accept commit without blocking the event loop: the ledger connection that accepts
// commits with synchronous=NORMAL (no fsync inside COMMIT, on the main thread), then an fsync of the
// -wal file runs in libuv's pool before the 250. Same guarantee as synchronous=FULL: the frames of
// every acknowledged commit are on disk (or already checkpointed into the fsynced database file).
// GroupCommit calls it once per group, never two at a time, so there is nothing to coalesce here.
import { open, type FileHandle } from 'node:fs/promises';

export class WalSync {
  private handle?: Promise<FileHandle>;

  constructor(private readonly walPath: string) {}

  /** Resolves once the WAL file, as it is now, is on disk. */
  async sync(): Promise<void> {
    this.handle ??= open(this.walPath, 'r');
    await (await this.handle).sync();
  }

  async close(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    if (h) await (await h).close().catch(() => {});
  }
}
