// Group commit: accepts that arrive while the previous group's fsync is in flight are written in the
// next SQLite transaction together, and one fsync makes that whole group durable. Twenty concurrent
// sessions then share a few transactions and fsyncs instead of one each, and nobody waits longer:
// an accept arriving mid-fsync could not have been covered by that fsync anyway.
export class GroupCommit<T, R> {
  private pending: { item: T; resolve(r: R): void; reject(e: Error): void }[] = [];
  private running = false;

  /**
   * `commit` writes all items in one transaction (without fsync) and returns, per item, its result or
   * its Error; `durable` makes what was committed survive power loss (an fsync of the WAL).
   */
  constructor(
    private readonly commit: (items: T[]) => (R | Error)[],
    private readonly durable: () => Promise<void>,
  ) {}

  /** Resolves once the item is committed and durable. */
  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (!this.running) {
        this.running = true;
        setImmediate(() => void this.run()); // sessions whose DATA ended in this turn join the group
      }
    });
  }

  private async run(): Promise<void> {
    while (this.pending.length) {
      const batch = this.pending;
      this.pending = [];
      let results: (R | Error)[];
      try {
        results = this.commit(batch.map((b) => b.item));
        await this.durable();
      } catch (err) {
        for (const b of batch) b.reject(err as Error);
        continue;
      }
      batch.forEach((b, i) => {
        const r = results[i];
        if (r instanceof Error) b.reject(r);
        else b.resolve(r);
      });
    }
    this.running = false;
  }
}
