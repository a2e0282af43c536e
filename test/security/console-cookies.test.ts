// A Cookie header that is not valid percent-encoding (`zb_lang=%`): decodeURIComponent threw on it in the
// console's request handler, and again in its error page, where nothing caught it: one unauthenticated
// request ended the process (under `start`, the relay and the receiver with it). Now the cookie is
// ignored and the page is served. Real HTTP over loopback.
import { describe, it, expect, afterEach, inject } from 'vitest';
import { startConsole } from '../../src/roles/console.js';
import { hashPassword } from '../../src/config/password.js';
import { tempDir, testConfig, stopAll, log } from '../helpers/env.js';
import { rawStatusLine } from '../helpers/http.js';

let t: ReturnType<typeof tempDir> | undefined;
const running: { close(): unknown }[] = [];
afterEach(async () => {
  await stopAll(...running.splice(0));
  t?.cleanup();
});

const HOSTILE = ['zb_lang=%', 'zb_session=%E0%A4%A', 'zb_login=%zz; zb_lang=ja', 'x=%'];

describe('console cookies that are not percent-encoding', () => {
  it('are ignored: the page is served and the console goes on', async () => {
    t = tempDir();
    const cfg = testConfig(t.dir, { console: { port: 0, users: [{ name: 'sato', password: await hashPassword('pw-123456') }] } });
    const c = await startConsole(cfg, inject('redisUrl'), log);
    running.push(c);
    for (const cookie of HOSTILE) {
      expect(await rawStatusLine(c.port!, '/login', [`Cookie: ${cookie}`])).toBe('HTTP/1.1 200 OK');
      expect(await rawStatusLine(c.port!, '/', [`Cookie: ${cookie}`])).toBe('HTTP/1.1 303 See Other'); // no session: to /login
    }
    expect(await rawStatusLine(c.port!, '/login')).toBe('HTTP/1.1 200 OK');
  });
});
