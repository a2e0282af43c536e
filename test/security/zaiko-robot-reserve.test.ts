// The attack: many addresses together, each within its own per-address limit, hold every connection or
// every in-flight byte of the receiver. zaiko Robot's hosts (shops[].zaikoRobot.clients) keep a reserved
// share: its upload is answered OK while the others are refused. Real receiver, real sockets from
// several loopback addresses (127.0.0.x), real Redis. Before the reserve, zaiko Robot's connection was
// dropped, and its upload answered 503 busy.
import { describe, it, expect, afterEach, inject } from 'vitest';
import { connect, type Socket } from 'node:net';
import { request } from 'node:http';
import { startReceiver } from '../../src/roles/receiver.js';
import { tempDir, testConfig, uniqueName, log, SHOP } from '../helpers/env.js';
import { form, auth, items } from '../helpers/http.js';
import { until } from '../helpers/net.js';

const ZAIKO_ROBOT = '127.0.0.9';
const PATH = '/api/zaikorobot.php';
const KiB = 1024;
let t: ReturnType<typeof tempDir>;
const sockets: Socket[] = [];
const closes: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const c of closes.splice(0)) await c();
  t?.cleanup();
});

async function receiver(receiverOverrides: Record<string, unknown>): Promise<number> {
  t = tempDir();
  const cfg = testConfig(t.dir, {
    receiver: { adminClients: ['127.0.0.1/32'], waitMs: '1ms', ...receiverOverrides },
    shops: [{ ...SHOP, zaikoRobot: { ...SHOP.zaikoRobot, clients: [`${ZAIKO_ROBOT}/32`] } }],
  });
  const r = await startReceiver(cfg, inject('redisUrl'), log, { queueName: uniqueName('stock') });
  closes.push(() => r.close());
  return r.port!;
}

/** A connection from `from` that stays open; `open` turns false when the server closes it. */
function hold(port: number, from: string, head = ''): { socket: Socket; open: () => boolean } {
  let open = true;
  const socket = connect({ port, host: '127.0.0.1', localAddress: from }, () => socket.write(head));
  socket.on('error', () => {});
  socket.on('close', () => (open = false));
  socket.on('data', () => {});
  sockets.push(socket);
  return { socket, open: () => open };
}

/** An upload from `from`; resolves with status and body, or with the error's code when the connection was dropped. */
function upload(port: number, from: string): Promise<string> {
  const body = form([...auth, ...items([['TNG-AI-01', '3']])]);
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: PATH,
        method: 'POST',
        localAddress: from,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve(`${res.statusCode} ${text.trim().split('\n')[0]}`));
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end(body);
  });
}

describe('zaiko Robot keeps a reserved share of the receiver', () => {
  it('connections: five addresses with two idle connections each cannot take the last fifth of maxConnections', async () => {
    const port = await receiver({ maxConnections: 10, maxConnectionsPerAddress: 2 });
    const held = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6'].flatMap((a) => [hold(port, a), hold(port, a)]);
    // 8 of them are kept (10 less the reserve of 2); the last two are closed at once.
    await until(() => held.filter((h) => !h.open()).length === 2, 5000, 'two of the ten closed');
    expect(await upload(port, ZAIKO_ROBOT)).toBe('200 OK');
    expect(held.filter((h) => h.open())).toHaveLength(8);
  });

  it('in-flight bytes: four addresses holding unfinished uploads cannot take the reserved part of maxInflightBytes', async () => {
    // 64 KiB in flight, 16 KiB per upload and per address: a reserve of 16 KiB; others together hold at most 48.
    const port = await receiver({ maxInflightBytes: 64 * KiB, maxBytes: 16 * KiB });
    const unfinished = (from: string) => {
      const head =
        `POST ${PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n` +
        `Content-Length: ${16 * KiB}\r\n\r\nsys_id=`;
      let answer = '';
      const h = hold(port, from, head);
      h.socket.on('data', (d) => (answer += d));
      return () => answer;
    };
    const answers = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'].map(unfinished);
    // Three hold 16 KiB each; whichever came fourth is refused.
    await until(() => answers.filter((a) => a().startsWith('HTTP/1.1 503')).length === 1, 5000, 'one outsider refused: busy');
    expect(answers.map((a) => a()).find((a) => a !== '')).toContain('NG\nbusy');
    expect(await upload(port, ZAIKO_ROBOT)).toBe('200 OK');
    expect(answers.map((a) => a()).filter((a) => a === '')).toHaveLength(3); // still being held: nothing answered yet
  });
});
