// The receiver behind a reverse proxy, over real HTTP (issue 11): X-Forwarded-For is believed only from
// receiver.trustedProxies, the rightmost hop that is not a proxy is the client, and lockout, logs and
// adminClients use that address. 127.0.0.1 plays the proxy, 127.0.0.2 a client that talks directly.
import { describe, it, expect, afterEach, inject } from 'vitest';
import { request } from 'node:http';
import { startReceiver } from '../../src/roles/receiver.js';
import { tempDir, testConfig, uniqueName, stopAll, capturingLogger } from '../helpers/env.js';
import { form, auth, items } from '../helpers/http.js';

const PATH = '/api/zaikorobot.php';
let t: ReturnType<typeof tempDir> | undefined;
const running: { close(): unknown }[] = [];
afterEach(async () => {
  await stopAll(...running.splice(0));
  t?.cleanup();
});

function send(port: number, path: string, opts: { from?: string; xff?: string; body?: string } = {}) {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    if (opts.xff !== undefined) headers['x-forwarded-for'] = opts.xff;
    const req = request(
      { host: '127.0.0.1', port, path, method: opts.body === undefined ? 'GET' : 'POST', headers, localAddress: opts.from ?? '127.0.0.1' },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, text }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

async function boot() {
  t = tempDir();
  const lines: string[] = [];
  const log = capturingLogger(lines);
  const cfg = testConfig(t.dir, { receiver: { waitMs: 100, trustedProxies: ['127.0.0.1/32'], lockout: { failures: 3 } } });
  const r = await startReceiver(cfg, inject('redisUrl'), log, { queueName: uniqueName('stock') });
  running.push(r);
  const clients = () => lines.filter((l) => l.includes('upload refused')).map((l) => JSON.parse(l).client);
  return { port: r.port!, clients };
}

const wrong = form([['sys_id', 'zr-croft01'], ['sys_pass', 'nope'], ...items([['A', '1']])]);
const right = form([...auth, ...items([['A', '1']])]);

describe('trustedProxies', () => {
  it('takes the rightmost untrusted hop from a trusted proxy, and only from it', async () => {
    const { port, clients } = await boot();
    await send(port, PATH, { xff: '203.0.113.9', body: wrong });
    // A proxy chain: the leftmost hop is only the client's word.
    await send(port, PATH, { xff: '198.51.100.7, 203.0.113.10, 127.0.0.1', body: wrong });
    await send(port, PATH, { from: '127.0.0.2', xff: '203.0.113.11', body: wrong }); // not a proxy: its header is ignored
    await send(port, PATH, { xff: 'junk, 203.0.113.12', body: wrong });
    await send(port, PATH, { xff: '203.0.113.13, junk', body: wrong }); // the proxy wrote junk: the proxy is all we know
    expect(clients()).toEqual(['203.0.113.9', '203.0.113.10', '127.0.0.2', '203.0.113.12', '127.0.0.1']);
  });

  it('locks out the forwarded client, not the proxy (other clients behind it still get in)', async () => {
    const { port } = await boot();
    for (let i = 0; i < 3; i++) expect((await send(port, PATH, { xff: '203.0.113.66', body: wrong })).text).toBe('NG\nauth_error\n');
    expect((await send(port, PATH, { xff: '203.0.113.66', body: right })).text).toBe('NG\nauth_error\n'); // locked
    expect((await send(port, PATH, { xff: '203.0.113.77', body: right })).status).toBe(200);
    expect((await send(port, PATH, { xff: '203.0.113.77', body: right })).text).not.toBe('NG\nauth_error\n');
  });

  it('adminClients are judged on the forwarded client: an outsider through the proxy gets 403', async () => {
    const { port } = await boot();
    expect((await send(port, '/metrics', { xff: '203.0.113.9' })).status).toBe(403);
    expect((await send(port, '/readyz', { xff: '203.0.113.9' })).status).toBe(403);
    expect((await send(port, '/metrics')).status).toBe(200); // the proxy host itself
  });
});
