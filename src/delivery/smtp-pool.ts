// A small pool of SMTP connections to the smarthost, built on nodemailer's SMTPConnection. The
// spooled bytes go out as they are: messages up to BUFFER_LIMIT_BYTES from one Buffer (a ledger-kept
// message's own, or a file read into a Buffer each connection keeps and reuses), larger ones streamed.
// nodemailer's pooled *transport* would do the same job, but it wraps each raw message in a MIME
// node and a chain of streams: measured on 5 KiB messages to smtp-sink, 1.03 ms of CPU per message
// against 0.30 ms here (bench/README.md), and delivery is half of the relay's work.
import { createRequire } from 'node:module';
import type NodemailerSmtpConnection from 'nodemailer/lib/smtp-connection';
import type { SMTPConnectionOptions } from 'nodemailer/lib/smtp-connection';
import type { StoredMessage } from '../intake/spool/stored-message.js';
import { countLargeMessage } from '../observe/large-message-gc.js';
import { installDataStreamFastPath } from './data-stream-fast-path.js';

/**
 * nodemailer's CommonJS build, not its ESM one: on Node 24 the ESM build's `import ... from 'node:http'` makes
 * Node build http's ESM namespace, which reads http.WebSocket and so loads undici into this thread: 2.3 MB
 * more heap and 15 MB more RSS than the CommonJS build's require('http') (measured, Node 24.18; not on Node 20).
 */
const SMTPConnection = createRequire(import.meta.url)('nodemailer/lib/smtp-connection') as typeof NodemailerSmtpConnection;
type SMTPConnection = NodemailerSmtpConnection;

/**
 * Messages up to this size are read in one read into the connection's own Buffer, reused for its next
 * message: a fresh 1 MiB Buffer per message was 1 MiB of garbage V8 only collects after ~64 MB of it,
 * or with a forced collection every 4 MiB: the largest item of the delivery thread's profile on 1 MiB mail.
 * Larger ones are streamed from the file. The pool holds at most maxConnections of these Buffers.
 */
const BUFFER_LIMIT_BYTES = 4 * 1024 * 1024;
/** A connection's Buffer grows in steps of this much (and starts at it), not on every larger message. */
const BUFFER_STEP_BYTES = 64 * 1024;
/** A connection is closed after this many messages (as nodemailer's pool does) or this long idle. */
const MAX_MESSAGES_PER_CONNECTION = 100;
const IDLE_CLOSE_MS = 5_000;

export interface PoolOptions extends SMTPConnectionOptions {
  maxConnections: number;
  auth?: { user: string; pass: string };
  /** Messages above this size are streamed from the file (default BUFFER_LIMIT_BYTES; the bench sets the old 256 KiB). */
  bufferLimitBytes?: number;
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
  /** The last buffered message's bytes, and the room for the next one's (see send). */
  buffer?: Buffer;
}

const isTransient = (err: SmtpError) => err.code === 'ECONNECTION' || err.code === 'ETIMEDOUT' || err.code === 'ESOCKET';

export class SmtpPool {
  private readonly idle: Conn[] = [];
  private readonly waiting: ((c: Conn | null) => void)[] = [];
  private openCount = 0;
  private closed = false;
  private readonly bufferLimit: number;

  constructor(private readonly options: PoolOptions) {
    installDataStreamFastPath(); // the delivery thread logs it when nodemailer changed and it could not
    this.bufferLimit = options.bufferLimitBytes ?? BUFFER_LIMIT_BYTES;
  }

  /** Sends the message's bytes unchanged; resolves with the final reply, rejects with an SmtpError. */
  async send(envelope: { from: string; to: string[] }, message: StoredMessage): Promise<SendInfo> {
    const { size } = message;
    const buffered = size <= this.bufferLimit;
    const env = { from: envelope.from, to: envelope.to, size, use8BitMime: true };
    for (let attempt = 0; ; attempt++) {
      const conn = await this.acquire();
      const reused = conn.sent > 0;
      try {
        const body = buffered ? message.bytes((n) => roomOf(conn, n)) : message.stream();
        const info = await new Promise<SendInfo>((resolve, reject) =>
          conn.smtp.send(env, body, (err, i) => (err ? reject(err) : resolve(i as SendInfo))),
        );
        // The buffer may take the connection's next message: the server answered the final dot, which
        // it can only have read after every byte before it, so no byte of the buffer is still queued
        // in the socket or in nodemailer's DataStream (which may hold slices of it, not copies).
        this.release(conn, true);
        if (!buffered) countLargeMessage(size); // the stream's chunks are garbage; the buffer is not
        return info;
      } catch (err) {
        // Not after an error, though: the server may have answered before the end of the data (a 552
        // mid-DATA), or the socket timed out with bytes still queued, and a connection kept for the
        // next message (after RSET) could send them after the buffer had been refilled. A fresh one
        // costs one allocation on a rare path; the old one goes when nothing refers to it anymore.
        conn.buffer = undefined;
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
    conn.buffer = undefined;
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
 * The connection's Buffer, grown if needed, for a file's bytes (read synchronously by the message: this
 * runs in the delivery thread, the file was written moments ago, and fs round trips through libuv's pool
 * cost more than the read).
 */
function roomOf(conn: Conn, size: number): Buffer {
  if (!conn.buffer || conn.buffer.length < size) {
    // allocUnsafeSlow: a Buffer of its own, not a slice of Node's shared pool that it would keep alive.
    conn.buffer = Buffer.allocUnsafeSlow(Math.ceil(Math.max(size, 1) / BUFFER_STEP_BYTES) * BUFFER_STEP_BYTES);
  }
  return conn.buffer;
}
