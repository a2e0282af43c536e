// The pool's reused message buffer (src/delivery/smtp-pool.ts) against a server that answers out of
// order: 552 while the message is still being written, then 250 to the RSET before reading it. The
// connection stays (an EMESSAGE is not the connection's fault) with megabytes of the first message
// still queued in its socket; the next message must not be read into the buffer those bytes are sent
// from. A raw TCP server, because no real SMTP server misbehaves on cue.
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server, type Socket } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { SmtpPool } from '../../src/delivery/smtp-pool.js';
import { spoolFile } from '../../src/intake/spool/stored-message.js';
import { tempDir } from '../helpers/env.js';

const t = tempDir();
let server: Server | undefined;
const sockets = new Set<Socket>();
afterEach(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  t.cleanup();
});

/** A message of `lines` CRLF lines of 78 bytes that all carry the 6-character `mark` (nothing in it needs dot-stuffing). */
function messageFile(name: string, mark: string, lines: number): { path: string; bytes: Buffer } {
  const bytes = Buffer.from(`${mark} ${'x'.repeat(69)}\r\n`.repeat(lines));
  const path = join(t.dir, `${name}.eml`);
  writeFileSync(path, bytes);
  return { path, bytes };
}

/**
 * Answers EHLO, MAIL, RCPT and DATA; at the first bytes of the message answers 552 and stops reading;
 * 100 ms later answers 250 to the RSET it has not read; 200 ms after that reads on, and resolves with
 * the first `size` bytes after the 354 once the RSET behind them may have arrived. (nodemailer writes the
 * RSET, and the next MAIL FROM, before the end-of-data dot: its DataStream is still draining.)
 */
function outOfOrderServer(size: number): Promise<{ port: number; data: Promise<Buffer> }> {
  let resolveData: (b: Buffer) => void;
  const data = new Promise<Buffer>((r) => (resolveData = r));
  server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    let inData = false;
    let lines = '';
    let received = Buffer.alloc(0);
    socket.write('220 out-of-order ESMTP\r\n');
    socket.on('data', (chunk: Buffer) => {
      if (inData) {
        received = Buffer.concat([received, chunk]);
        if (received.length >= size + 6) resolveData(received.subarray(0, size));
        return;
      }
      lines += chunk.toString('latin1');
      let nl: number;
      while ((nl = lines.indexOf('\r\n')) >= 0) {
        const command = lines.slice(0, nl).toUpperCase();
        lines = lines.slice(nl + 2);
        if (command.startsWith('EHLO')) socket.write('250-out-of-order\r\n250 8BITMIME\r\n');
        else if (command.startsWith('MAIL') || command.startsWith('RCPT')) socket.write('250 ok\r\n');
        else if (command === 'DATA') {
          socket.write('354 go on\r\n');
          inData = true;
          received = Buffer.from(lines, 'latin1');
          // Too big, says the server at once, and reads no further for now.
          socket.write('552 5.3.4 too big\r\n');
          socket.pause();
          setTimeout(() => socket.write('250 2.0.0 reset\r\n'), 100);
          setTimeout(() => socket.resume(), 300);
          return;
        }
      }
    });
  });
  return new Promise((resolve) => server!.listen(0, '127.0.0.1', () => resolve({ port: (server!.address() as AddressInfo).port, data })));
}

describe('SMTP pool buffer reuse', () => {
  it('reads the next message into a new buffer after a send failed with bytes still queued: the queued ones go out unchanged', async () => {
    // 12 MiB: far more than the kernel takes on loopback while the server does not read (send buffer <= 4 MiB).
    const lines = Math.ceil((12 * 1024 * 1024) / 78);
    const { port, data } = await outOfOrderServer(lines * 78);
    const pool = new SmtpPool({ host: '127.0.0.1', port, maxConnections: 1, bufferLimitBytes: 16 * 1024 * 1024, socketTimeout: 10_000 });
    const first = messageFile('first', 'FIRST!', lines);
    const second = messageFile('second', 'SECOND', lines);
    expect(first.bytes.length).toBe(lines * 78);
    const envelope = { from: 'shop@example.jp', to: ['c@example.net'] };
    const a = pool.send(envelope, spoolFile(first.path)).catch((e: { responseCode?: number }) => e);
    const b = pool.send(envelope, spoolFile(second.path)).catch((e: unknown) => e); // waits for the one connection
    expect(await a).toMatchObject({ responseCode: 552 });
    const sent = await data;
    pool.close();
    for (const s of sockets) s.destroy();
    await b;
    expect(sent.includes('SECOND')).toBe(false);
    expect(sent.equals(first.bytes)).toBe(true);
    expect(second.bytes.length).toBe(first.bytes.length); // same size: the buffer would have been reused
  });
});
