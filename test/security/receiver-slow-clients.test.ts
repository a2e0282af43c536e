// Slow and greedy clients against the real receiver over real sockets (issue 11): node's header and
// whole-request timeouts really cut a slowloris (here shortened to 1 s / 2 s; 10 s / 60 s by default),
// bodies over maxBytes are refused while they arrive, maxInflightBytes answers 503 busy, and
// maxConnections closes connections beyond it. Each client here would go on for a minute if not cut.
import { describe, it, expect, afterEach, inject } from 'vitest';
import { connect, type Socket } from 'node:net';
import { startReceiver, type RunningRole } from '../../src/roles/receiver.js';
import { tempDir, testConfig, uniqueName, log, stopAll } from '../helpers/env.js';
import { post, form, auth, items } from '../helpers/http.js';
import { until, sleep } from '../helpers/net.js';

const PATH = '/api/zaikorobot.php';
const KiB = 1024;
let t: ReturnType<typeof tempDir> | undefined;
const running: RunningRole[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await stopAll(...running.splice(0));
  t?.cleanup();
});

async function boot(receiver: Record<string, unknown> = {}) {
  t = tempDir();
  const r = await startReceiver(testConfig(t.dir, { receiver: { waitMs: 100, ...receiver } }), inject('redisUrl'), log, {
    queueName: uniqueName('stock'),
    httpTimeouts: { headersMs: 1000, requestMs: 2000, checkEveryMs: 200 },
  });
  running.push(r);
  return r.port!;
}

interface Client {
  socket: Socket;
  answer: string;
  closed: boolean;
  sent: number;
}
function open(port: number, localAddress?: string): Client {
  const socket = connect({ port, host: '127.0.0.1', localAddress });
  sockets.push(socket);
  const c: Client = { socket, answer: '', closed: false, sent: 0 };
  socket.on('data', (d) => (c.answer += d.toString('latin1')));
  socket.on('error', () => {});
  socket.on('close', () => (c.closed = true));
  return c;
}

/** Writes `text` one byte every `everyMs` until the server closes the connection or `limitMs` passes. */
async function dribble(c: Client, text: string, everyMs = 100, limitMs = 10_000): Promise<void> {
  const end = Date.now() + limitMs;
  for (let i = 0; !c.closed && Date.now() < end; i = (i + 1) % text.length) {
    c.socket.write(text[i]);
    c.sent++;
    await sleep(everyMs);
  }
}

const HEAD = (length: number | 'chunked') =>
  `POST ${PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n` +
  (length === 'chunked' ? 'Transfer-Encoding: chunked\r\n\r\n' : `Content-Length: ${length}\r\n\r\n`);

describe('slow clients', () => {
  it('headers sent a byte at a time are cut at the header timeout (408), not after a minute', async () => {
    const c = open(await boot());
    await dribble(c, `POST ${PATH} HTTP/1.1\r\nX-Slow: ${'a'.repeat(1000)}`);
    expect(c.closed).toBe(true);
    expect(c.answer).toMatch(/^HTTP\/1\.1 408 /);
    console.log(`slowloris headers: cut after ${c.sent} bytes`);
  }, 20_000);

  it('a body sent a byte at a time is cut at the whole-request timeout', async () => {
    const c = open(await boot());
    c.socket.write(HEAD(100_000));
    await dribble(c, 'x');
    expect(c.closed).toBe(true);
    console.log(`slowloris body: cut after ${c.sent} bytes, answer ${JSON.stringify(c.answer.split('\r\n')[0])}`);
  }, 20_000);

  it('a connection that sends nothing is closed', async () => {
    const c = open(await boot());
    await until(() => c.closed, 10_000, 'the idle connection closed');
  }, 20_000);
});

describe('size and load limits', () => {
  it('Content-Length over maxBytes: 413 before any body byte; chunked: 413 once past it, while the client still sends', async () => {
    const port = await boot({ maxBytes: 64 * KiB });
    const declared = open(port);
    declared.socket.write(HEAD(65 * KiB));
    await until(() => declared.answer.includes('\r\n\r\n'), 10_000, 'the 413');
    expect(declared.answer).toMatch(/^HTTP\/1\.1 413 [^]*\r\n\r\nNG\ntoo_large\n$/);

    const chunked = open(port);
    chunked.socket.write(HEAD('chunked'));
    for (let i = 0; i < 100 && !chunked.answer; i++) {
      // up to 100 × 8 KiB, never the end chunk
      chunked.socket.write(`2000\r\n${'a'.repeat(8 * KiB)}\r\n`);
      await sleep(20);
    }
    expect(chunked.answer).toMatch(/^HTTP\/1\.1 413 [^]*\r\n\r\nNG\ntoo_large\n$/);
  }, 20_000);

  it('beyond maxInflightBytes: 503 NG busy with Retry-After; a small upload still fits; the budget comes back', async () => {
    const port = await boot({ maxInflightBytes: 256 * KiB });
    const big = open(port);
    big.socket.write(HEAD(200 * KiB) + 'a'.repeat(10 * KiB)); // admitted, then waits
    await sleep(200);
    const second = open(port);
    second.socket.write(HEAD(100 * KiB));
    await until(() => second.answer.includes('\r\n\r\n'), 10_000, 'the 503');
    expect(second.answer).toMatch(/^HTTP\/1\.1 503 [^]*\r\nretry-after: 30\r\n[^]*\r\n\r\nNG\nbusy\n$/i);
    const small = await post(port, PATH, form([...auth, ...items([['NOPE', '1']])]));
    expect(small.status).toBe(200);
    expect((await post(port, '/metrics', '')).text).toContain('zaiko_bridge_uploads_total{answer="busy"} 1');
    big.socket.destroy(); // gives its 200 KiB back
    await sleep(200);
    const third = open(port);
    third.socket.write(HEAD(100 * KiB) + form(auth).padEnd(100 * KiB, '&'));
    await until(() => third.answer.includes('\r\n\r\n'), 10_000, 'an answer');
    expect(third.answer).toMatch(/^HTTP\/1\.1 200 [^]*\r\n\r\nNG\nno_query\n$/);
  }, 20_000);

  it('beyond maxConnections: the connection is closed at once', async () => {
    const port = await boot({ maxConnections: 3 });
    const held = [open(port), open(port), open(port)];
    for (const c of held) c.socket.write('POST '); // connected, headers unfinished
    await sleep(200);
    const extra = open(port);
    await until(() => extra.closed, 5_000, 'the fourth connection closed');
    expect(extra.answer).toBe('');
    expect(held.every((c) => !c.closed)).toBe(true);
  }, 20_000);

  it('one address cannot take every connection: past maxConnectionsPerAddress (16) its next ones are closed, others get in', async () => {
    const port = await boot({ maxConnections: 40 });
    const flood = Array.from({ length: 40 }, () => open(port, '127.0.0.2'));
    for (const c of flood) c.socket.write('POST '); // connected, headers unfinished
    await until(() => flood.filter((c) => c.closed).length === 24, 5_000, '24 connections of 127.0.0.2 closed');
    await sleep(200);
    expect(flood.filter((c) => !c.closed).length).toBe(16);
    const other = await post(port, PATH, form([...auth, ...items([['A-1', '1']])]));
    expect(other.status).toBe(200);
  }, 20_000);

  it('one address cannot take the whole inflight budget: past its quarter it gets busy, another address still uploads', async () => {
    const port = await boot({ maxBytes: 64 * KiB, maxInflightBytes: 1024 * KiB });
    const flood = Array.from({ length: 16 }, () => open(port, '127.0.0.2'));
    for (const c of flood) c.socket.write(HEAD(64 * KiB) + 'a'.repeat(KiB)); // 16 x 64 KiB would be the whole budget
    await until(() => flood.filter((c) => c.answer !== '').length === 12, 10_000, '12 of them answered');
    const body = form([...auth, ...items([['NOPE', '1']])]);
    const other = open(port, '127.0.0.3');
    other.socket.write(HEAD(body.length) + body);
    await until(() => other.answer.includes('\r\n\r\n'), 10_000, 'the answer to 127.0.0.3');
    expect(other.answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(flood.filter((c) => c.answer.includes('NG\nbusy\n'))).toHaveLength(12);
  }, 20_000);
});
