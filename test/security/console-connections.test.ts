// The console listener under `start` shares the relay's file descriptors. It had no connection limit and
// 20 s for the headers: idle sockets from anyone who can reach console.host piled up. Now sockets past
// CONSOLE_MAX_CONNECTIONS are closed as they come, and the console answers again once they are gone.
// Real HTTP over loopback.
import { describe, it, expect, afterEach, inject } from 'vitest';
import { connect, type Socket } from 'node:net';
import { startConsole } from '../../src/roles/console.js';
import { CONSOLE_MAX_CONNECTIONS } from '../../src/console/server.js';
import { hashPassword } from '../../src/config/password.js';
import { tempDir, testConfig, stopAll, log } from '../helpers/env.js';
import { until } from '../helpers/net.js';
import { rawStatusLine } from '../helpers/http.js';

let t: ReturnType<typeof tempDir> | undefined;
const running: { close(): unknown }[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await stopAll(...running.splice(0));
  t?.cleanup();
});

describe('console listener', () => {
  it('closes idle sockets past its limit, then answers again', async () => {
    t = tempDir();
    const cfg = testConfig(t.dir, { console: { port: 0, users: [{ name: 'sato', password: await hashPassword('pw-123456') }] } });
    const c = await startConsole(cfg, inject('redisUrl'), log);
    running.push(c);
    const extra = 8;
    let closed = 0;
    for (let i = 0; i < CONSOLE_MAX_CONNECTIONS + extra; i++) {
      const s = connect(c.port!, '127.0.0.1');
      s.on('error', () => {});
      s.on('close', () => closed++);
      sockets.push(s);
    }
    // Old code: every socket stays open (for the 20 s headers timeout), none is closed here.
    await until(() => closed >= extra, 10_000, 'sockets past the limit closed');
    for (const s of sockets.splice(0)) s.destroy();
    await until(async () => (await rawStatusLine(c.port!, '/login').catch(() => '')) !== '', 10_000, 'login page');
    expect(await rawStatusLine(c.port!, '/login')).toBe('HTTP/1.1 200 OK');
  });
});
