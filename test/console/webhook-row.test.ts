// The console's overview has a row per shop whose cart takes pushed changes: how far it is, and the
// cart's last answer (an outsider's text: shown escaped), in English and Japanese.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { request } from 'node:http';
import { tempDir, testConfig, log } from '../helpers/env.js';
import { hashPassword } from '../../src/config/password.js';
import { startConsole } from '../../src/roles/console.js';
import type { RunningRole } from '../../src/roles/receiver.js';
import { openDb } from '../../src/db/open.js';
import { CursorStore } from '../../src/stock/webhook/cursor-store.js';

let t: ReturnType<typeof tempDir>;
let role: RunningRole;

function get(path: string, headers: Record<string, string> = {}, method = 'GET', body?: string) {
  return new Promise<{ status: number; headers: Record<string, any>; text: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: role.port, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

beforeAll(async () => {
  t = tempDir();
  const cfg = testConfig(t.dir, {
    console: { port: 0, users: [{ name: 'sato', password: await hashPassword('right-one') }] },
    shops: [
      {
        id: 'croft-zakka',
        senders: ['order@croft-zakka.example.jp'],
        zaikoRobot: { userId: 'zr-croft01', password: 's3cret-pass' },
        cart: { webhook: { url: 'https://croft-zakka.example.jp/hook.php', secret: `whsec_${Buffer.alloc(24, 3).toString('base64')}` } },
      },
    ],
  });
  const db = openDb(t.dir, 'stock');
  const cursors = new CursorStore(db);
  cursors.ensure('croft-zakka');
  const now = Date.now();
  cursors.failed('croft-zakka', 'rejected', 503, 'HTTP 503: <b>down</b>', now, now + 4000);
  db.close();
  role = await startConsole(cfg, { url: 'redis://127.0.0.1:1' }, log);
});
afterAll(async () => {
  await role?.close();
  t.cleanup();
});

async function session(): Promise<string> {
  const page = await get('/login');
  const csrf = /name="csrf" value="([^"]+)"/.exec(page.text)![1];
  const res = await get(
    '/login',
    { cookie: `zb_login=${csrf}`, 'content-type': 'application/x-www-form-urlencoded' },
    'POST',
    `name=sato&password=right-one&csrf=${csrf}`,
  );
  return /zb_session=([^;]+)/.exec(String(res.headers['set-cookie']))![1];
}

describe('the overview', () => {
  it("shows each webhook shop's cursor, pending changes and the cart's last answer, escaped", async () => {
    const cookie = `zb_session=${await session()}`;
    const en = await get('/', { cookie, 'accept-language': 'en' });
    expect(en.status).toBe(200);
    expect(en.text).toContain('Cart webhook (changes pushed to the cart)');
    expect(en.text).toMatch(/<td>croft-zakka<\/td>\s*<td class="num">0<\/td>\s*<td class="num">0<\/td>\s*<td>503<\/td>/);
    expect(en.text).toContain('HTTP 503: &lt;b&gt;down&lt;/b&gt;');
    expect(en.text).not.toContain('<b>down</b>');
    const ja = await get('/', { cookie, 'accept-language': 'ja' });
    expect(ja.text).toContain('カートへの Webhook (在庫変更の送信)');
    expect(ja.text).toContain('未送信の変更');
  });
});
