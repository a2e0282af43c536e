// Durability of the accept commit without blocking the event loop: the ledger connection that accepts
// commits with synchronous=NORMAL (no fsync inside COMMIT, on the main thread), then awaits an fsync
// of the -wal file in libuv's pool before the 250. Calls that arrive while an fsync runs share the
// next one, so concurrent sessions coalesce theirs. Same guarantee as synchronous=FULL: the frames of
// every acknowledged commit are on disk (or already checkpointed into the fsynced database file).
import { open, type FileHandle } from 'node:fs/promises';

export class WalSync {
  private handle?: Promise<FileHandle>;
  private running?: Promise<void>;
  private next?: Promise<void>;

  constructor(private readonly walPath: string) {}

  /** Resolves once an fsync that started after this call has finished. */
  sync(): Promise<void> {
    if (!this.running) return (this.running = this.run());
    // One is in flight: it may have started before our commit, so wait for the one after it.
    this.next ??= this.running.then(() => { this.next = undefined; return (this.running = this.run()); });
    return this.next;
  }

  private async run(): Promise<void> {
    try {
      this.handle ??= open(this.walPath, 'r');
      await (await this.handle).sync();
    } finally {
      this.running = undefined;
    }
  }

  async close(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    if (h) await (await h).close().catch(() => {});
  }
}
