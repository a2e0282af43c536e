// Paces another thread's big writes to the disk. A 200,000-item upload writes stock.db in three bursts,
// each ended by one fsync: the store (~6 MB of WAL), the apply (~48 MB of WAL) and the apply's checkpoint
// (as much again into stock.db). An fsync of another file on the same disk (the ledger's WAL before a 250)
// that comes during a burst waits behind all of it: 26-62 ms measured (bench/README.md). While held, this
// fdatasyncs the files every INTERVAL_MS whenever they changed, from the libuv pool of the thread that holds
// it (its event loop is free while the writer's is not), so the disk gets a burst in slices of a few MB and
// a 250's fsync waits behind one slice. It only flushes earlier: what SQLite makes durable, and when, is as
// before (its own fsync still ends each commit and checkpoint).
import { open, type FileHandle } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/** A slice: what the writer puts in the page cache in this time (~4 MB at the VM's 1 GB/s of pwrite). */
const INTERVAL_MS = 4;

interface Watched {
  handle: FileHandle;
  /** Size and mtime at the last flush: an unchanged file is not flushed (ext4 sends the disk a cache flush anyway). */
  seen: string;
}

export class FlushPacer {
  /** How many flushes it made (tests). */
  flushes = 0;
  private holders = 0;
  private running?: Promise<void>;

  constructor(
    private readonly paths: readonly string[],
    private readonly intervalMs = INTERVAL_MS,
  ) {}

  /** Paces until the returned release is called; holds nest (the last release stops it). */
  hold(): () => void {
    this.holders++;
    this.run();
    let released = false;
    return () => {
      if (!released) this.holders--;
      released = true;
    };
  }

  /** Resolves once a loop that was running has closed its files (for tests and shutdown). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private run(): void {
    this.running ??= this.loop().finally(() => {
      this.running = undefined;
      if (this.holders > 0) this.run(); // held again while the last loop was closing its files
    });
  }

  private async loop(): Promise<void> {
    const files = new Map<string, Watched>();
    try {
      while (this.holders > 0) {
        for (const path of this.paths) await this.flushIfChanged(files, path);
        await sleep(this.intervalMs);
      }
    } finally {
      for (const f of files.values()) await f.handle.close().catch(() => {});
    }
  }

  private async flushIfChanged(files: Map<string, Watched>, path: string): Promise<void> {
    try {
      let f = files.get(path);
      if (!f) files.set(path, (f = { handle: await open(path, 'r'), seen: '' }));
      const st = await f.handle.stat();
      const mark = `${st.size}:${st.mtimeMs}`;
      if (mark === f.seen) return;
      f.seen = mark;
      await f.handle.datasync();
      this.flushes++;
    } catch {
      // Not there yet (a WAL appears with its first write) or gone: SQLite's own fsync is what counts.
    }
  }
}
