// Group commit: accepts that arrive while the event loop is busy are written in one SQLite
// transaction, so N concurrent sessions share one fsync instead of queueing for N.
export class GroupCommit<T, R> {
  private pending: { item: T; resolve(r: R): void; reject(e: Error): void }[] = [];
  private scheduled = false;

  /** `commit` writes all items in one transaction and returns, per item, its result or its Error. */
  constructor(private readonly commit: (items: T[]) => (R | Error)[]) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    this.scheduled = false;
    let results: (R | Error)[];
    try {
      results = this.commit(batch.map((b) => b.item));
    } catch (err) {
      for (const b of batch) b.reject(err as Error);
      return;
    }
    batch.forEach((b, i) => {
      const r = results[i];
      if (r instanceof Error) b.reject(r);
      else b.resolve(r);
    });
  }
}
