// The console's HTTP rules without a browser, against startConsole on real SQLite files and the test Redis:
// escaping, bodies refused while they arrive, lockout after failed logins, the audit log line.
import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest';
import { request } from 'node:http';
import { listedMessage } from '../helpers/console.js';
import { tempDir, testConfig, capturingLogger } from '../helpers/env.js';
import { hashPassword } from '../../src/config/password.js';
import { startConsole } from '../../src/roles/console.js';
import type { RunningRole } from '../../src/roles/receiver.js';
import { html, raw } from '../../src/console/html.js';
import { chooseLang } from '../../src/console/i18n.js';
import { openDb } from '../../src/db/open.js';
import { LedgerStore } from '../../src/ledger/store.js';
import { importCatalog, parseCatalog } from '../../src/stock/catalog.js';
import { UploadStore } from '../../src/stock/store.js';
import { applyUpload } from '../../src/stock/apply/apply.js';
import { applyOrder } from '../../src/stock/orders/decrement.js';
import { run } from '../helpers/cli.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const redisUrl = inject('redisUrl');
let t: ReturnType<typeof tempDir>;
let role: RunningRole;
const logLines: string[] = [];

function http(
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; body?: string | Buffer; chunks?: { size: number; count: number } } = {},
) {
  return new Promise<{ status: number; headers: Record<string, any>; text: string; sent: number }>((resolve, reject) => {
    let sent = 0;
    let answered = false;
    const req = request({ host: '127.0.0.1', port: role.port, method, path, headers: opts.headers }, (res) => {
      answered = true; // a refused upload stops here: the server closes the connection after its answer
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      const done = () => resolve({ status: res.statusCode!, headers: res.headers, text, sent });
      res.on('end', done);
      // The close can reset the socket while the rest of a refused body is still in flight: the status is in.
      res.on('error', done);
    });
    req.on('error', (err) => (answered ? undefined : reject(err)));
    if (opts.chunks) {
      const chunk = Buffer.alloc(opts.chunks.size, 'a');
      const write = (i: number) => {
        if (answered) return req.destroy();
        if (i >= opts.chunks!.count || req.destroyed) return req.end();
        sent += chunk.length;
        if (req.write(chunk)) setImmediate(() => write(i + 1));
        else req.once('drain', () => write(i + 1));
      };
      write(0);
    } else req.end(opts.body);
  });
}

async function login(name: string, password: string) {
  const page = await http('GET', '/login');
  const csrf = /name="csrf" value="([^"]+)"/.exec(page.text)![1];
  const res = await http('POST', '/login', {
    headers: { cookie: `zb_login=${csrf}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: `name=${encodeURIComponent(name)}&password=${encodeURIComponent(password)}&csrf=${csrf}`,
  });
  const session = /zb_session=([^;]+)/.exec(String(res.headers['set-cookie'] ?? ''))?.[1];
  return { res, session };
}

beforeAll(async () => {
  t = tempDir();
  const cfg = testConfig(t.dir, { console: { port: 0, users: [{ name: 'sato', password: await hashPassword('right-one') }] } });
  // A message whose subject tries to inject markup: the page must show it as text.
  const db = openDb(t.dir, 'ledger');
  new LedgerStore(db).acceptMany([listedMessage('QXSS1', { subject: '<script>alert(1)</script>' })]);
  db.close();
  // A product changed three ways: the catalog import, an upload, an order mail's decrement.
  const stock = openDb(t.dir, 'stock');
  importCatalog(stock, 'croft-zakka', parseCatalog(Buffer.from('SRC-1,Sourced,10,0,0\n')), undefined, Date.now() - 60_000);
  const uploadId = new UploadStore(stock).insert('croft-zakka', { source: 'http', charset: 'utf-8' }, [{ code: 'SRC-1', rawStock: '7' }]);
  applyUpload(stock, uploadId);
  const order = { shop: 'croft-zakka', key: 'ORD-77', orderNumber: 'ORD-77', qid: 'QORD77' };
  applyOrder(stock, {
    ...order,
    acceptedAt: Date.now() + 1000,
    items: [
      { code: 'SRC-1', quantity: 2 },
      { code: 'GONE-9', quantity: 3 }, // not in the catalog: the order mail's skip
    ],
  });
  stock.close();
  const log = capturingLogger(logLines);
  role = await startConsole(cfg, redisUrl, log);
});
afterAll(async () => {
  await role?.close();
  t?.cleanup();
});

describe('console over HTTP', () => {
  it('escapes by default', async () => {
    expect(html`<p>${'<b>"x" & \'y\'</b>'}</p>`.text).toBe('<p>&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;</p>');
    expect(html`<p>${raw('<b>ok</b>')}${[1, '<i>']}${null}${false}</p>`.text).toBe('<p><b>ok</b>1&lt;i&gt;</p>');
    const { session } = await login('sato', 'right-one');
    const page = await http('GET', '/mail/QXSS1', { headers: { cookie: `zb_session=${session}` } });
    expect(page.status).toBe(200);
    expect(page.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page.text).not.toContain('<script>');
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    expect(page.headers['content-security-policy']).not.toContain('unsafe-inline');
  });

  it('shows where each change of a product came from: the upload, the order mail, the catalog import', async () => {
    const { session } = await login('sato', 'right-one');
    const page = await http('GET', '/stock/croft-zakka/SRC-1', { headers: { cookie: `zb_session=${session}` } });
    expect(page.status).toBe(200);
    expect(page.text).toMatch(/Order mail <a href="\/mail\/QORD77">ORD-77<\/a>/);
    expect(page.text).toMatch(/Upload <a href="\/uploads\/\d+">\d+<\/a>/);
    expect(page.text).toContain('Catalog import');
  });

  it("lists an order mail's skip with the uploads' ones, linked to the mail, on /stock?reason= and the product page", async () => {
    const { session } = await login('sato', 'right-one');
    const cookie = `zb_session=${session}`;
    const list = await http('GET', '/stock?reason=unknown_code', { headers: { cookie } });
    expect(list.status).toBe(200);
    expect(list.text).toMatch(
      /Order mail <a href="\/mail\/QORD77">ORD-77<\/a><\/td>\s*<td>croft-zakka<\/td>\s*<td><a href="\/stock\/croft-zakka\/GONE-9">GONE-9<\/a><\/td>\s*<td>×3<\/td>\s*<td>unknown_code<\/td>/,
    );
    expect((await http('GET', '/stock?reason=stale', { headers: { cookie } })).text).not.toContain('GONE-9');
    const product = await http('GET', '/stock/croft-zakka/GONE-9', { headers: { cookie } });
    expect(product.status).toBe(200);
    expect(product.text).toMatch(/Order mail <a href="\/mail\/QORD77">ORD-77<\/a><\/td>\s*<td>×3<\/td>/);
  });

  it('chooses Japanese only when the browser asks for ja first', () => {
    expect(chooseLang(null, undefined, 'ja,en;q=0.8')).toBe('ja');
    expect(chooseLang(null, undefined, 'en;q=0.5,ja-JP;q=0.9')).toBe('ja');
    expect(chooseLang(null, undefined, 'en-US,ja;q=0.9')).toBe('en');
    expect(chooseLang(null, 'ja', 'en')).toBe('ja');
    expect(chooseLang('en', 'ja', 'ja')).toBe('en');
  });

  it('refuses a mail-check body over its bound while it arrives, with 413', async () => {
    const { session } = await login('sato', 'right-one');
    const page = await http('GET', '/mail/check', { headers: { cookie: `zb_session=${session}` } });
    expect(page.status).toBe(200);
    // 64 × 1 MiB announced as chunked (no Content-Length): the answer comes after ~2 MiB, not after 64.
    const res = await http('POST', '/mail/check', {
      headers: { cookie: `zb_session=${session}`, 'content-type': 'multipart/form-data; boundary=x' },
      chunks: { size: 1024 * 1024, count: 64 },
    });
    expect(res.status).toBe(413);
    expect(res.sent).toBeLessThan(64 * 1024 * 1024);
  });

  it('locks a name out after repeated failures, and logs actions with the user name', async () => {
    for (let i = 0; i < 5; i++) expect((await login('sato', `wrong-${i}`)).res.status).toBe(i < 4 ? 401 : 429);
    const locked = await login('sato', 'right-one');
    expect(locked.res.status).toBe(429);
    expect(locked.session).toBeUndefined();
    expect(logLines.join('')).not.toContain('wrong-');
    expect(logLines.some((l) => l.includes('"user":"sato"') && l.includes('"action":"login"'))).toBe(true);
  });

  it('does not start without a user, and says why', () => {
    const config = join(t.dir, 'no-users.yaml');
    writeFileSync(config, `dataDir: ${JSON.stringify(join(t.dir, 'other'))}\nredis: { url: ${JSON.stringify(redisUrl)} }\n`);
    const r = run(['console', '--config', config]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('console.users is empty');
    writeFileSync(config, 'console: { users: [{ name: a, password: plain-text }] }\n');
    expect(run(['config', 'check', '--config', config]).stderr).toContain('console.users[0].password: must be a hash printed by');
  });
});
