// The console's `?after=` cursors under attack, over real HTTP against startConsole on real SQLite files:
// a value that is not one cursor this console gave (negative, huge, not a number, repeated, 10 KB,
// unicode, control bytes) shows the list from the newest; a well-formed one past every row an empty
// page; nothing is logged whole.
import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest';
import { request } from 'node:http';
import { consoleLogin, listedMessage } from '../helpers/console.js';
import { tempDir, testConfig, capturingLogger } from '../helpers/env.js';
import { hashPassword } from '../../src/config/password.js';
import { startConsole } from '../../src/roles/console.js';
import type { RunningRole } from '../../src/roles/receiver.js';
import { openDb } from '../../src/db/open.js';
import { LedgerStore } from '../../src/ledger/store.js';
import { UploadStore } from '../../src/stock/store.js';
import { applyUpload } from '../../src/stock/apply/apply.js';
import { applyOrder } from '../../src/stock/orders/decrement.js';

const redisUrl = inject('redisUrl');
const SHOP = 'croft-zakka';
const ROWS = 60; // more than one page (50) of each list
let t: ReturnType<typeof tempDir>;
let role: RunningRole;
let cookie: string;
const logLines: string[] = [];

function get(path: string, headers: Record<string, string> = { cookie }) {
  return new Promise<{ status: number; text: string; headers: Record<string, unknown> }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: role.port, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, text, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The rows a list page shows: the messages' ids, or the skipped codes. */
const mailRows = (html: string) => [...html.matchAll(/href="\/mail\/(QCUR\d+)"/g)].map((m) => m[1]);
const skipRows = (html: string) => [...html.matchAll(/>(GONE-\d+)</g)].map((m) => m[1]);
const nextCursor = (html: string) => /href="[^"]*[?&]after=([^"&]+)/.exec(html)?.[1];

/** Values of `after` no page gives: each must show the list from the newest. */
const HOSTILE: [string, string][] = [
  ['negative', '-1'],
  ['negative cursor', '-1.QCUR001'],
  ['20+ digits', `${'9'.repeat(25)}.QCUR001`],
  ['20+ digits alone', '9'.repeat(25)],
  ['not a number', 'abc'],
  ['bad escape', '%25zz'],
  ['10 KB', 'a'.repeat(10_240)],
  ['10 KB of digits', `${'1'.repeat(10_240)}.Q`],
  ['full-width digits', encodeURIComponent('１２３.ＱＣＵＲ')],
  ['emoji', encodeURIComponent('💥~💥')],
  ['lone surrogate bytes', '%ED%A0%80.Q'],
  ['NUL and CR LF', '1%00.Q%0D%0A~'],
  ['skips cursor with a 10 KB order key', `~1.0.${'k'.repeat(10_240)}`],
];

beforeAll(async () => {
  t = tempDir();
  const cfg = testConfig(t.dir, { console: { port: 0, users: [{ name: 'sato', password: await hashPassword('right-one') }] } });
  const base = Date.now() - 3_600_000;
  const ledgerDb = openDb(t.dir, 'ledger');
  new LedgerStore(ledgerDb).acceptMany(
    Array.from({ length: ROWS }, (_, i) =>
      listedMessage(`QCUR${String(i).padStart(3, '0')}`, { receivedAt: base + i * 1000, subject: `mail ${i}` }),
    ),
  );
  ledgerDb.close();
  // Skips of both sources: an upload of unknown codes, an order mail's unknown item.
  const stock = openDb(t.dir, 'stock');
  const items = Array.from({ length: ROWS }, (_, i) => ({ code: `GONE-${i}`, rawStock: '1' }));
  applyUpload(stock, new UploadStore(stock).insert(SHOP, { source: 'http', charset: 'utf-8' }, items, base));
  applyOrder(stock, { shop: SHOP, key: 'K-1', orderNumber: 'K-1', qid: 'QK1', acceptedAt: base, items: [{ code: 'GONE-X', quantity: 1 }] });
  stock.close();
  const log = capturingLogger(logLines, 'debug');
  role = await startConsole(cfg, redisUrl, log);
  cookie = await consoleLogin(role.port!, 'sato', 'right-one');
});
afterAll(async () => {
  await role?.close();
  t?.cleanup();
});

describe.each([
  { list: '/mail', rows: mailRows, pastEveryRow: '1.Q' },
  { list: '/stock', rows: skipRows, pastEveryRow: '0.0~0.0.K' },
])('$list?after=', ({ list, rows, pastEveryRow }) => {
  it('pages on with the cursor the page gives', async () => {
    const first = await get(list);
    expect(first.status).toBe(200);
    expect(rows(first.text)).toHaveLength(50);
    const after = nextCursor(first.text)!;
    expect(after).toBeTruthy();
    const second = await get(`${list}?after=${after}`);
    expect(second.status).toBe(200);
    expect(rows(second.text).length).toBeGreaterThan(0);
    expect(rows(second.text).some((r) => rows(first.text).includes(r))).toBe(false);
  });

  it.each(HOSTILE)('%s: the list from the newest, a way back to it, nothing logged whole', async (_name, value) => {
    const newest = rows((await get(list)).text);
    const logged = logLines.length;
    const r = await get(`${list}?after=${value}`);
    expect(r.status).toBe(200);
    expect(rows(r.text)).toEqual(newest);
    expect(logLines.slice(logged).join('').length).toBeLessThan(2000);
  });

  it('a repeated after is no cursor: the list from the newest', async () => {
    const first = await get(list);
    const after = nextCursor(first.text)!;
    const r = await get(`${list}?after=${after}&after=${after}`);
    expect(r.status).toBe(200);
    expect(rows(r.text)).toEqual(rows(first.text));
  });

  it('zero / past every row: an empty page that says so and links to the newest', async () => {
    const r = await get(`${list}?after=${pastEveryRow}`);
    expect(r.status).toBe(200);
    expect(rows(r.text)).toEqual([]);
    expect(r.text).toContain('None.');
    expect(r.text).toMatch(new RegExp(`href="${list}"`));
  });
});
