// Request targets that Node's HTTP parser passes but WHATWG URL rejects (`GET //a:99999`: a host with a
// bad port). The receiver and the console parsed them outside any catch: one such request ended the
// process (under `start`, the relay with it). Now: 400, and the server goes on. Real HTTP over loopback.
import { describe, it, expect, afterEach, inject } from 'vitest';
import { startReceiver } from '../../src/roles/receiver.js';
import { startConsole } from '../../src/roles/console.js';
import { hashPassword } from '../../src/config/password.js';
import { tempDir, testConfig, uniqueName, stopAll, log } from '../helpers/env.js';
import { rawStatusLine } from '../helpers/http.js';

let t: ReturnType<typeof tempDir> | undefined;
const running: { close(): unknown }[] = [];
afterEach(async () => {
  await stopAll(...running.splice(0));
  t?.cleanup();
});

const HOSTILE = ['//a:99999', '//[::1', 'http://a:99999/x'];

describe('request targets WHATWG URL rejects', () => {
  it('the receiver answers 400 and keeps serving', async () => {
    t = tempDir();
    const r = await startReceiver(testConfig(t.dir), inject('redisUrl'), log, { queueName: uniqueName('stock') });
    running.push(r);
    for (const target of HOSTILE) expect(await rawStatusLine(r.port!, target)).toBe('HTTP/1.1 400 Bad Request');
    expect(await rawStatusLine(r.port!, '/healthz')).toBe('HTTP/1.1 200 OK');
  });

  it('the console answers 400 and keeps serving', async () => {
    t = tempDir();
    const cfg = testConfig(t.dir, { console: { port: 0, users: [{ name: 'sato', password: await hashPassword('pw-123456') }] } });
    const c = await startConsole(cfg, inject('redisUrl'), log);
    running.push(c);
    for (const target of HOSTILE) expect(await rawStatusLine(c.port!, target)).toBe('HTTP/1.1 400 Bad Request');
    expect(await rawStatusLine(c.port!, '/login')).toBe('HTTP/1.1 200 OK');
  });
});
