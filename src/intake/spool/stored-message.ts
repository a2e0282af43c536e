// One accepted message's bytes as every reader sees them (delivery, bounces, `mail show --raw`, the
// console, resend), whichever form the spool gave them: a body kept in ledger.db (small mail, written in
// the accept commit) or a file in dataDir/spool. Only this file and spool.ts know which.
import { openSync, fstatSync, readSync, closeSync, createReadStream, statSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { LedgerStore } from '../../ledger/store.js';

export interface StoredMessage {
  readonly size: number;
  /** Where the bytes are, for people (`mail show`): the file's path, or "ledger.db". */
  readonly where: string;
  /**
   * The whole message in one Buffer: a ledger-kept message's own (no copy), a file read into
   * `room(size)` when given (the delivery pool reuses one per connection), else into a new Buffer.
   */
  bytes(room?: (size: number) => Buffer): Buffer;
  /** The bytes as a stream (large messages, downloads). */
  stream(): Readable;
  /** At most `limit` bytes from the start. */
  head(limit: number): Buffer;
  /**
   * After the ledger marked the message's spool removed: removes what is left. A file goes only once
   * `durable()` made the mark survive power loss; a ledger-kept body went with the mark itself.
   */
  removeAfterMark(durable: () => Promise<void>): Promise<void>;
}

class InlineMessage implements StoredMessage {
  readonly where = 'ledger.db';
  constructor(private readonly body: Buffer) {}
  get size(): number {
    return this.body.length;
  }
  bytes(): Buffer {
    return this.body;
  }
  stream(): Readable {
    return Readable.from([this.body]);
  }
  head(limit: number): Buffer {
    return this.body.subarray(0, limit);
  }
  async removeAfterMark(): Promise<void> {}
}

class FileMessage implements StoredMessage {
  constructor(
    readonly where: string,
    readonly size: number,
  ) {}
  bytes(room?: (size: number) => Buffer): Buffer {
    const fd = openSync(this.where, 'r');
    try {
      const size = fstatSync(fd).size;
      const buf = room ? room(size) : Buffer.allocUnsafe(size);
      let n = 0;
      while (n < size) {
        const got = readSync(fd, buf, n, size - n, n);
        if (got === 0) break; // shorter than it was at fstat: what is there, as a stream would
        n += got;
      }
      return buf.subarray(0, n);
    } finally {
      closeSync(fd);
    }
  }
  stream(): Readable {
    return createReadStream(this.where);
  }
  head(limit: number): Buffer {
    const fd = openSync(this.where, 'r');
    try {
      const buf = Buffer.alloc(Math.min(limit, this.size));
      return buf.subarray(0, readSync(fd, buf, 0, buf.length, 0));
    } finally {
      closeSync(fd);
    }
  }
  async removeAfterMark(durable: () => Promise<void>): Promise<void> {
    await durable();
    await unlink(this.where).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err; // gone already: a repeated job, a crash after the unlink
    });
  }
}

/** A spool file as a message (tests and benches hand files to the delivery pool this way). */
export function spoolFile(path: string): StoredMessage {
  return new FileMessage(path, statSync(path).size);
}

/** The message's bytes while the spool keeps them; undefined when unknown to the ledger, removed, or its file gone. */
export function openMessage(ledger: LedgerStore, id: string): StoredMessage | undefined {
  const row = ledger.stored(id);
  if (!row || row.spool_removed) return undefined;
  if (row.body) return new InlineMessage(row.body);
  try {
    return spoolFile(row.spool_path);
  } catch {
    return undefined;
  }
}
