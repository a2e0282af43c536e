// /metrics and /readyz against the real receiver and the relay's own listener over real HTTP (issue 11):
// only receiver.adminClients may read them (others: 403; /healthz stays open), and /readyz's body says
// "not ready" without the socket path or error text, which go to the log. 127.0.0.2 plays the outsider.
import { describe, it, expect, afterEach, inject } from 'vitest';
import { request } from 'node:http';
import { startReceiver } from '../../src/roles/receiver.js';
import { startRelay } from '../../src/roles/relay.js';
import { tempDir, testConfig, uniqueName, stopAll, log, capturingLogger } from '../helpers/env.js';
import { freePort, until } from '../helpers/net.js';

let t: ReturnType<typeof tempDir> | undefined;
const running: { close(): unknown }[] = [];
afterEach(async () => {
  await stopAll(...running.splice(0));
  t?.cleanup();
});

function get(port: number, path: string, from = '127.0.0.1'): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, localAddress: from }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, text }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('admin routes', () => {
  it('receiver: /metrics and /readyz for adminClients only, /healthz for all', async () => {
    t = tempDir();
    const r = await startReceiver(testConfig(t.dir), inject('redisUrl'), log, { queueName: uniqueName('stock') });
    running.push(r);
    for (const path of ['/metrics', '/readyz']) {
      expect(await get(r.port!, path, '127.0.0.2')).toEqual({ status: 403, text: 'forbidden\n' });
      expect((await get(r.port!, path)).status).toBe(200);
    }
    expect(await get(r.port!, '/healthz', '127.0.0.2')).toEqual({ status: 200, text: 'ok\n' });
  });

  it('receiver: adminClients can open /metrics to a monitoring network', async () => {
    t = tempDir();
    const r = await startReceiver(testConfig(t.dir, { receiver: { adminClients: ['127.0.0.0/29'] } }), inject('redisUrl'), log, {
      queueName: uniqueName('stock'),
    });
    running.push(r);
    expect((await get(r.port!, '/metrics', '127.0.0.2')).text).toContain('zaiko_bridge_');
    expect((await get(r.port!, '/metrics', '127.0.0.9')).status).toBe(403);
  });

  it('/readyz says "not ready" and nothing else; what is wrong is logged', async () => {
    t = tempDir();
    const lines: string[] = [];
    const logger = capturingLogger(lines);
    const socket = `${t.dir}/secret-place/redis.sock`;
    const r = await startReceiver(testConfig(t.dir), `unix://${socket}`, logger, { queueName: uniqueName('stock') });
    running.push(r);
    const first = await get(r.port!, '/readyz');
    expect(first).toEqual({ status: 503, text: 'not ready\n' });
    await get(r.port!, '/readyz');
    const logged = lines.filter((l) => l.includes('"not ready"'));
    expect(logged.length).toBeGreaterThanOrEqual(1); // once per change of the problem's text, not once per probe
    expect(logged[0]).toMatch(/redis: /);
  });

  it('relay.metricsPort: the same rules', async () => {
    t = tempDir();
    const metricsPort = await freePort();
    const cfg = testConfig(t.dir, { relay: { metricsPort } });
    const relay = await startRelay(cfg, inject('redisUrl'), log, { queueName: uniqueName('mail') });
    running.push(relay);
    await until(async () => (await get(metricsPort, '/healthz').catch(() => undefined))?.status === 200, 10_000, 'relay metrics listening');
    expect((await get(metricsPort, '/metrics', '127.0.0.2')).status).toBe(403);
    expect((await get(metricsPort, '/readyz', '127.0.0.2')).status).toBe(403);
    expect((await get(metricsPort, '/healthz', '127.0.0.2')).status).toBe(200);
    expect((await get(metricsPort, '/metrics')).text).toContain('zaiko_bridge_');
  });
});
