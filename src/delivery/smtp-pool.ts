// A small pool of SMTP connections to the smarthost, built on nodemailer's SMTPConnection. The
// spooled bytes go out as they are: small messages as one Buffer, large ones streamed from the file.
// nodemailer's pooled *transport* would do the same job, but it wraps each raw message in a MIME
// node and a chain of streams: measured on 5 KiB messages to smtp-sink, 1.03 ms of CPU per message
// against 0.30 ms here (bench/README.md), and delivery is half of the relay's work.
import SMTPConnection, { type SMTPConnectionOptions } from 'nodemailer/lib/smtp-connection';
import { createReadStream, openSync, fstatSync, readSync, closeSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { countLargeMessage } from '../observe/large-message-gc.js';

/** Messages up to this size are read into memory in one read; larger ones are streamed. */
const BUFFER_LIMIT_BYTES = 256 * 1024;
/** A connection is closed after this many messages (as nodemailer's pool does) or this long idle. */
const MAX_MESSAGES_PER_CONNECTION = 100;
const IDLE_CLOSE_MS = 5_000;

export interface PoolOptions extends SMTPConnectionOptions {
  maxConnections: number;
  auth?: { user: string; pass: string };
}
export interface SendInfo {
  response: string;
  rejectedErrors?: SmtpError[];
}
export type SmtpError = Error & {
  code?: string;
  responseCode?: number;
  response?: string;
  rejectedErrors?: SmtpError[];
  recipient?: string;
};

interface Conn {
  smtp: SMTPConnection;
  sent: number;
  idle?: NodeJS.Timeout;
  gone?: boolean;
}

const isTransient = (err: SmtpError) => err.code === 'ECONNECTION' || err.code === 'ETIMEDOUT' || err.code === 'ESOCKET';

export class SmtpPool {
  private readonly idle: Conn[] = [];
  private readonly waiting: ((c: Conn | null) => void)[] = [];
  private openCount = 0;
  private closed = false;

  constructor(private readonly options: PoolOptions) {}

  /** Sends the file's bytes unchanged; resolves with the final reply, rejects with an SmtpError. */
  async send(envelope: { from: string; to: string[] }, path: string): Promise<SendInfo> {
    const { size, body } = readMessage(path);
    const env = { from: envelope.from, to: envelope.to, size, use8BitMime: true };
    for (let attempt = 0; ; attempt++) {
      const conn = await this.acquire();
      const reused = conn.sent > 0;
      try {
        const info = await new Promise<SendInfo>((resolve, reject) =>
          conn.smtp.send(env, typeof body === 'function' ? body() : body, (err, i) => (err ? reject(err) : resolve(i as SendInfo))),
        );
        this.release(conn, true);
        countLargeMessage(size);
        return info;
      } catch (err) {
        const e = err as SmtpError;
        const connectionFine = (e.code === 'EENVELOPE' || e.code === 'EMESSAGE') && e.responseCode !== 421;
        if (connectionFine) {
          await new Promise<void>((r) =>
            conn.smtp.reset((resetErr) => {
              this.release(conn, !resetErr);
              r();
            }),
          );
          throw e;
        }
        this.release(conn, false);
        // A reused connection the server had dropped while idle: once more on a fresh one.
        if (reused && attempt === 0 && isTransient(e)) continue;
        throw e;
      }
    }
  }

  close(): void {
    this.closed = true;
    for (const c of [...this.idle]) this.drop(c, true);
    for (const w of this.waiting.splice(0)) w(null);
  }

  private async acquire(): Promise<Conn> {
    if (this.closed) throw Object.assign(new Error('delivery is stopping'), { code: 'ECONNECTION' });
    const free = this.idle.pop();
    if (free) {
      clearTimeout(free.idle);
      return free;
    }
    // (a connection the server closed while idle was dropped from `idle` by its 'end' event)
    if (this.openCount < this.options.maxConnections) {
      this.openCount++;
      try {
        return await this.connect();
      } catch (err) {
        this.openCount--;
        this.wakeOne();
        throw err;
      }
    }
    const conn = await new Promise<Conn | null>((resolve) => this.waiting.push(resolve));
    return conn ?? this.acquire();
  }

  /** Returns a connection to the pool, or closes it (broken, used up, pool closing). */
  private release(conn: Conn, usable: boolean): void {
    conn.sent++;
    if (conn.gone) return;
    if (!usable || this.closed || conn.sent >= MAX_MESSAGES_PER_CONNECTION) return this.drop(conn, usable);
    const next = this.waiting.shift();
    if (next) return next(conn);
    conn.idle = setTimeout(() => this.drop(conn, true), IDLE_CLOSE_MS);
    this.idle.push(conn);
  }

  /** Closes a connection once, whoever notices first (us, or the server ending it while idle). */
  private drop(conn: Conn, polite: boolean): void {
    if (conn.gone) return;
    conn.gone = true;
    clearTimeout(conn.idle);
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
    this.openCount--;
    if (polite) conn.smtp.quit();
    else conn.smtp.close();
    this.wakeOne();
  }

  /** A slot freed up: a waiter may open a connection of its own. */
  private wakeOne(): void {
    this.waiting.shift()?.(null);
  }

  private connect(): Promise<Conn> {
    const smtp = new SMTPConnection(this.options);
    return new Promise<Conn>((resolve, reject) => {
      let settled = false;
      // Errors after connect (server closing an idle connection) surface on the next send.
      smtp.on('error', (err) => {
        if (!settled) {
          settled = true;
          reject(err);
        }
      });
      smtp.connect(() => {
        if (settled) return;
        const conn: Conn = { smtp, sent: 0 };
        smtp.once('end', () => this.drop(conn, false));
        const done = () => {
          settled = true;
          resolve(conn);
        };
        if (!this.options.auth) return done();
        smtp.login(this.options.auth, (err) => {
          if (!err) return done();
          settled = true;
          smtp.close();
          reject(err);
        });
      });
    });
  }
}

/**
 * Small messages are read synchronously: this runs in the delivery thread, the file was written
 * moments ago (page cache), and four fs round trips through libuv's pool cost more than the read.
 */
function readMessage(path: string): { size: number; body: Buffer | (() => Readable) } {
  const fd = openSync(path, 'r');
  try {
    const { size } = fstatSync(fd);
    if (size > BUFFER_LIMIT_BYTES) return { size, body: () => createReadStream(path) };
    const buf = Buffer.allocUnsafe(size);
    const n = readSync(fd, buf, 0, size, 0);
    return { size, body: buf.subarray(0, n) };
  } finally {
    closeSync(fd);
  }
}
