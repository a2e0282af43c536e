// relay.metricsPort's listener (the relay run alone) listens on relay.host beside the SMTP port. It had no
// connection limit and node's default 60 s for the headers: idle connections to it piled up until the
// process had no file descriptor left, and the relay could neither accept an SMTP session nor open a spool
// file (seen with `prlimit --nofile=400`: 450 idle sockets, the SMTP greeting never came). Now sockets past
// HEALTH_MAX_CONNECTIONS are closed as they come, and the relay goes on. Real HTTP and SMTP over loopback.
import { describe, it, expect, afterEach, inject } from 'vitest';
import { connect, type Socket } from 'node:net';
import { startRelay } from '../../src/roles/relay.js';
import { HEALTH_MAX_CONNECTIONS } from '../../src/observe/health.js';
import { tempDir, testConfig, uniqueName, stopAll, log } from '../helpers/env.js';
import { freePort, until } from '../helpers/net.js';

let t: ReturnType<typeof tempDir> | undefined;
const running: { close(): unknown }[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await stopAll(...running.splice(0));
  t?.cleanup();
});

/** The first line a server sends on a fresh connection ('' when it closes without a word). */
function firstLine(port: number, request = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => request && s.write(request));
    let text = '';
    s.on('data', (d) => {
      text += d;
      if (text.includes('\r\n')) {
        s.destroy();
        resolve(text.split('\r\n')[0]);
      }
    });
    s.on('close', () => resolve(text.split('\r\n')[0])); // closed unanswered: ''
    s.on('error', reject);
  });
}

describe('relay.metricsPort listener', () => {
  it('closes idle sockets past its limit; /healthz and SMTP still answer', async () => {
    t = tempDir();
    const metricsPort = await freePort();
    const relay = await startRelay(testConfig(t.dir, { relay: { metricsPort } }), inject('redisUrl'), log, {
      queueName: uniqueName('mail'),
    });
    running.push(relay);
    const extra = 8;
    let closed = 0;
    for (let i = 0; i < HEALTH_MAX_CONNECTIONS + extra; i++) {
      const s = connect(metricsPort, '127.0.0.1');
      s.on('error', () => {});
      s.on('close', () => closed++);
      sockets.push(s);
    }
    // Old code: every socket stays open (for node's 60 s headers timeout), none is closed here.
    await until(() => closed >= extra, 10_000, 'sockets past the limit closed');
    for (const s of sockets.splice(0)) s.destroy();
    await until(
      async () => (await firstLine(metricsPort, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n').catch(() => '')) !== '',
      10_000,
      'healthz',
    );
    expect(await firstLine(metricsPort, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')).toBe('HTTP/1.1 200 OK');
    expect(await firstLine(relay.port!)).toMatch(/^220 /);
  });
});
