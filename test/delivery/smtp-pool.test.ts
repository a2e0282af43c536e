// The delivery transport's SMTP pool against a real smtp-server sink: connections are reused, a
// connection the server dropped while idle is replaced, bytes go out unchanged (from the connection's
// reused buffer and streamed, with nodemailer's dot-stuffing and with the fast path that replaces it),
// and refused recipients come back one by one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import DataStream from 'nodemailer/lib/smtp-connection/data-stream';
import { smtpTransport } from '../../src/delivery/transport.js';
import { spoolFile } from '../../src/intake/spool/stored-message.js';
import { installDataStreamFastPath, transforms } from '../../src/delivery/data-stream-fast-path.js';
import { startSink, type Sink } from '../helpers/smtp.js';
import { tempDir, testConfig } from '../helpers/env.js';

let sink: Sink;
const t = tempDir();
beforeAll(async () => {
  sink = await startSink();
});
afterAll(async () => {
  await sink.close();
  t.cleanup();
});

function messageFile(name: string, body: string): { path: string; bytes: Buffer } {
  const bytes = Buffer.from(`From: shop@example.jp\r\nSubject: ${name}\r\n\r\n${body}`);
  const path = join(t.dir, `${name}.eml`);
  writeFileSync(path, bytes);
  return { path, bytes };
}

const upstream = (maxConnections: number) => testConfig(t.dir, { upstream: { port: sink.port, maxConnections } }).upstream;
const until = async (cond: () => boolean) => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
};

describe('SMTP pool', () => {
  it('sends 30 messages over at most 3 connections, each byte for byte', async () => {
    const transport = smtpTransport(upstream(3));
    const before = sink.connections();
    const start = sink.messages.length;
    const files = Array.from({ length: 30 }, (_, i) => messageFile(`reuse-${i}`, `line ${i}\r\n`));
    const results = await Promise.all(
      files.map((f) => transport.send({ from: 'shop@example.jp', to: ['c@example.net'] }, spoolFile(f.path), 'x')),
    );
    transport.close();
    expect(results.flat().every((r) => r.ok)).toBe(true);
    expect(sink.connections() - before).toBeLessThanOrEqual(3);
    const got = sink.messages
      .slice(start)
      .map((m) => m.raw.toString())
      .sort();
    expect(got).toEqual(files.map((f) => f.bytes.toString()).sort());
  });

  it('replaces a connection the server closed while it was idle', async () => {
    const transport = smtpTransport(upstream(1));
    const a = messageFile('idle-a', 'first\r\n');
    const b = messageFile('idle-b', 'second\r\n');
    const before = sink.connections();
    expect((await transport.send({ from: 'shop@example.jp', to: ['c@example.net'] }, spoolFile(a.path), 'a'))[0].ok).toBe(true);
    sink.dropSessions();
    await new Promise((r) => setTimeout(r, 100));
    const [second] = await transport.send({ from: 'shop@example.jp', to: ['c@example.net'] }, spoolFile(b.path), 'b');
    transport.close();
    expect(second).toMatchObject({ ok: true });
    expect(sink.connections() - before).toBe(2);
    await until(() => sink.messages.some((m) => m.raw.equals(b.bytes)));
    expect(sink.messages.some((m) => m.raw.equals(b.bytes))).toBe(true);
  });

  it('sends a 600 KB message unchanged, dot-stuffed lines included', async () => {
    const transport = smtpTransport(upstream(1));
    const body =
      Array.from({ length: 12_000 }, (_, i) => (i % 7 === 0 ? `.dot line ${i} ${'x'.repeat(40)}` : `line ${i} ${'y'.repeat(40)}`)).join(
        '\r\n',
      ) + '\r\n';
    const big = messageFile('big', body);
    expect(big.bytes.length).toBeGreaterThan(256 * 1024);
    const [r] = await transport.send({ from: 'shop@example.jp', to: ['c@example.net'] }, spoolFile(big.path), 'big');
    transport.close();
    expect(r.ok).toBe(true);
    expect(sink.messages.find((m) => m.raw.length === big.bytes.length)?.raw.equals(big.bytes)).toBe(true);
  });

  /** ~size bytes of lines, some starting with a dot (some only a dot), some ending in a bare LF or CR; `seed` varies the text. */
  function awkwardBody(size: number, seed: string): string {
    const lines: string[] = [];
    let n = 0;
    for (let i = 0; n < size; i++) {
      const text = i % 11 === 0 ? '.' : i % 5 === 0 ? `.${seed} dotted ${i}` : `${seed} line ${i} ${'z'.repeat(60)}`;
      const end = i % 97 === 0 ? '\n' : i % 89 === 0 ? '\r' : '\r\n';
      lines.push(text + end);
      n += text.length + end.length;
    }
    return lines.join('') + '\r\n';
  }
  /** What arrives for a spool file after the server unstuffs the dots: the same bytes, bare CR and LF made CRLF. */
  const onTheWire = (bytes: Buffer) => Buffer.from(bytes.toString('latin1').replace(/\r\n|\r|\n/g, '\r\n'), 'latin1');
  const received = (expected: Buffer) => sink.messages.filter((m) => m.raw.equals(expected)).length;

  for (const patched of [true, false])
    it(`sends 2 MiB messages with dotted lines, bare LF and CR over one connection, each as the file says, ${
      patched ? 'with the fast path' : "with nodemailer's own DataStream (the fallback)"
    }`, async () => {
      const proto = DataStream.prototype as unknown as { _transform: unknown };
      const { original, fast } = transforms();
      expect(installDataStreamFastPath()).toBe(true);
      proto._transform = patched ? fast : original;
      try {
        const transport = smtpTransport(upstream(1));
        const before = sink.connections();
        // The second is shorter than the first: a reused buffer must not send the first one's tail.
        const a = messageFile(`large-a-${patched}`, awkwardBody(2 * 1024 * 1024, 'alpha'));
        const b = messageFile(`large-b-${patched}`, awkwardBody(2 * 1024 * 1024 - 300_000, 'beta'));
        for (const f of [a, b, a]) {
          const [r] = await transport.send({ from: 'shop@example.jp', to: ['c@example.net'] }, spoolFile(f.path), 'x');
          expect(r.ok).toBe(true);
        }
        transport.close();
        expect(sink.connections() - before).toBe(1);
        expect(a.bytes.length).toBeGreaterThan(2 * 1024 * 1024);
        expect(onTheWire(a.bytes).equals(a.bytes)).toBe(false); // the bare line ends did need fixing
        expect(received(onTheWire(a.bytes))).toBe(2);
        expect(received(onTheWire(b.bytes))).toBe(1);
      } finally {
        proto._transform = fast;
      }
    });

  it('streams a message above the 4 MiB buffer limit, twice over one connection, as the file says', async () => {
    const transport = smtpTransport(upstream(1));
    const before = sink.connections();
    const big = messageFile('huge', awkwardBody(4 * 1024 * 1024 + 100_000, 'gamma'));
    expect(big.bytes.length).toBeGreaterThan(4 * 1024 * 1024);
    for (let i = 0; i < 2; i++)
      expect((await transport.send({ from: 'shop@example.jp', to: ['c@example.net'] }, spoolFile(big.path), 'h'))[0].ok).toBe(true);
    transport.close();
    expect(sink.connections() - before).toBe(1);
    expect(received(onTheWire(big.bytes))).toBe(2);
  });

  it('reports each refused recipient with its own reply, and delivers to the others', async () => {
    const transport = smtpTransport(upstream(2));
    sink.script.set('gone@example.net', [550]);
    sink.script.set('later@example.net', [451]);
    const f = messageFile('mixed', 'hello\r\n');
    const results = await transport.send(
      { from: 'shop@example.jp', to: ['ok@example.net', 'gone@example.net', 'later@example.net'] },
      spoolFile(f.path),
      'm',
    );
    transport.close();
    expect(results.map((r) => [r.address, r.ok, r.responseCode])).toEqual([
      ['ok@example.net', true, undefined],
      ['gone@example.net', false, 550],
      ['later@example.net', false, 451],
    ]);
    expect(sink.messages.find((m) => m.raw.equals(f.bytes))?.to).toEqual(['ok@example.net']);
  });
});
