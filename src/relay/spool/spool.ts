// The durable spool: DATA streams into dataDir/spool/tmp/<id> behind our Received: header, is
// fsynced, then renamed into dataDir/spool/<id>.eml (and the folder fsynced) — only then may we say 250.
import { createWriteStream, mkdirSync, openSync, fsyncSync, closeSync, renameSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const HEADER_SCAN_LIMIT_BYTES = 1024 * 1024; // Received: headers are counted in the first MiB only
export const LOOP_RECEIVED_COUNT = 100;

/** Counts Received: header fields while the message passes through unchanged. */
class HeaderScanner extends Transform {
  received = 0;
  private tail = '';
  private scanned = 0;
  private inHeader = true;
  _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.inHeader && this.scanned < HEADER_SCAN_LIMIT_BYTES) {
      const text = this.tail + chunk.toString('latin1');
      const end = text.search(/\r?\n\r?\n/);
      const header = end >= 0 ? text.slice(0, end + 1) : text;
      const lastNl = header.lastIndexOf('\n');
      const complete = end >= 0 ? header : header.slice(0, lastNl + 1);
      const matches = ('\n' + complete).match(/\nReceived:/gi);
      this.received += matches ? matches.length : 0;
      this.tail = end >= 0 ? '' : header.slice(lastNl + 1);
      if (end >= 0) this.inHeader = false;
      this.scanned += chunk.length;
    }
    done(null, chunk);
  }
}

export interface SpoolResult { path: string; size: number; received: number }

export class Spool {
  readonly dir: string;
  private readonly tmpDir: string;

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'spool');
    this.tmpDir = join(this.dir, 'tmp');
    mkdirSync(this.tmpDir, { recursive: true });
  }

  pathOf(id: string): string {
    return join(this.dir, `${id}.eml`);
  }

  /** Writes header + stream to a temp file and fsyncs it; `commit` renames it into place. */
  async write(id: string, receivedHeader: string, stream: Readable): Promise<SpoolResult & { commit(): void; discard(): void }> {
    const tmp = join(this.tmpDir, id);
    const scanner = new HeaderScanner();
    const out = createWriteStream(tmp, { flags: 'wx' });
    out.write(receivedHeader);
    try {
      await pipeline(stream, scanner, out);
      const fd = openSync(tmp, 'r+');
      try { fsyncSync(fd); } finally { closeSync(fd); }
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
    const path = this.pathOf(id);
    return {
      path,
      size: out.bytesWritten,
      received: scanner.received,
      commit: () => {
        renameSync(tmp, path);
        const dirFd = openSync(this.dir, 'r');
        try { fsyncSync(dirFd); } finally { closeSync(dirFd); }
      },
      discard: () => rmSync(tmp, { force: true }),
    };
  }

  remove(id: string): void {
    rmSync(this.pathOf(id), { force: true });
  }

  has(id: string): boolean {
    return existsSync(this.pathOf(id));
  }

  /** Temp files left by a crash were never acknowledged: drop them. */
  cleanTemp(): number {
    rmSync(this.tmpDir, { recursive: true, force: true });
    mkdirSync(this.tmpDir, { recursive: true });
    return 0;
  }
}
