// Operator commands at their edges: option values refused before any work (exit 2, one line), no
// stack traces, empty tables that say so, a 200,000-item upload, files that are not what they claim.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { tempDir, SHOP, FIXTURES } from '../helpers/env.js';
import { run, CLI } from '../helpers/cli.js';
import { openDb } from '../../src/db/open.js';
import { UploadStore } from '../../src/stock/store.js';
import { applyOrder } from '../../src/stock/orders/decrement.js';

let t: ReturnType<typeof tempDir>;
let config: string;
const cli = (...args: string[]) => run([...args, '--config', config]);

function writeConfig(extra: Record<string, unknown> = {}) {
  writeFileSync(
    config,
    stringify({
      dataDir: './data',
      relay: { port: 0 },
      receiver: { port: 0 },
      upstream: { outbox: './outbox' },
      shops: [SHOP],
      ...extra,
    }),
  );
}

beforeEach(() => {
  t = tempDir();
  config = join(t.dir, 'zb.yaml');
  writeConfig();
});
afterEach(() => t.cleanup());

const SINCE = 'use a date (2026-11-26 or 2026-11-26T10:00Z) or an age (30m, 2h, 7d)';

describe('option values', () => {
  it.each([
    [['mail', 'list', '--limit', 'abc'], '--limit "abc": expected a whole number from 1'],
    [['mail', 'list', '--limit', '0'], '--limit "0": expected a whole number from 1'],
    [['mail', 'list', '--offset', '-3'], '--offset "-3": expected a whole number from 0'],
    [['mail', 'list', '--since', 'yesterday'], `--since "yesterday": ${SINCE}`],
    [['mail', 'list', '--status', 'bogus'], '--status "bogus": use one of queued, deferred, sent, failed'],
    [
      ['stock', 'skipped', '--reason', 'bogus'],
      '--reason "bogus": use one of invalid_stock, duplicate_in_upload, unknown_code, variant_product, unlimited_stock, ' +
        'stock_management_code, stale',
    ],
    [['stock', 'skipped', '--since', '2026-13-45'], `--since "2026-13-45": ${SINCE}`],
    [['stock', 'export', '--encoding', 'klingon'], '--encoding "klingon": use one of utf-8, shift_jis'],
    [['stock', 'import', '--encoding', 'klingon', 'x.csv'], '--encoding "klingon": use one of utf-8, shift_jis'],
    [['stock', 'apply-file', '--wait', 'soon', 'x.csv'], '--wait "soon": expected a whole number from 0'],
    [['uploads', 'list', '--limit', '1e3'], '--limit "1e3": expected a whole number from 1'],
    [['uploads', 'show', 'abc'], '<id> "abc": expected a whole number from 1'],
    [
      ['queue', 'list', 'mail', '--state', 'bogus'],
      '--state "bogus": use one of waiting, active, delayed, failed, completed, paused, prioritized, waiting-children',
    ],
    [['queue', 'clean', 'mail', '--state', 'bogus', '--older-than', '7d'], '--state "bogus": use one of completed, failed'],
    [['queue', 'clean', 'mail', '--state', 'failed', '--older-than', 'a week'], '--older-than "a week": use an age such as 30m, 12h or 7d'],
  ])('%j exits 2 with one line, before touching dataDir', (args, message) => {
    const r = cli(...args);
    expect([r.code, r.stderr, r.stdout]).toEqual([2, `zaiko-bridge: ${message}\n`, '']);
    expect(existsSync(join(t.dir, 'data'))).toBe(false);
  });

  it('accepts what the messages offer', () => {
    expect(cli('mail', 'list', '--since', '2026-11-26', '--status', 'sent', '--limit', '5', '--offset', '0').code).toBe(0);
    expect(cli('mail', 'list', '--since', '2026-11-26T10:00Z').code).toBe(0);
    expect(cli('stock', 'skipped', '--since', '7d', '--reason', 'stale').code).toBe(0);
    expect(cli('stock', 'export', '--encoding', 'SJIS').code).toBe(0);
  });
});

describe('no stack traces', () => {
  it('an unexpected error is one line, its stack only with --debug or log.level debug', () => {
    const dir = join(t.dir, 'a-folder');
    mkdirSync(dir);
    const r = cli('mail', 'check', dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^zaiko-bridge: EISDIR: illegal operation on a directory, read\n/);
    expect(r.stderr).toContain('--debug');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(cli('mail', 'check', dir, '--debug').stderr).toMatch(/\n\s+at /);
    writeConfig({ log: { level: 'debug' } });
    expect(cli('mail', 'check', dir).stderr).toMatch(/\n\s+at /);
  });

  it('a CSV that is not CSV names file and line, and imports nothing', () => {
    const csv = join(t.dir, 'c.csv');
    writeFileSync(csv, 'A-1,a,3,0,0\n"B-2,b,1,0,0\n');
    const r = cli('stock', 'import', csv);
    expect([r.code, r.stderr]).toEqual([1, `zaiko-bridge: ${csv}:2: unterminated quoted field; nothing imported\n`]);
    writeFileSync(csv, 'A-1,a,3,0,0\nB-2,b,many,0,0\n');
    expect(cli('stock', 'import', csv).stderr).toBe(
      `zaiko-bridge: ${csv}:2: stock "many" is not a whole number from 0 to 2147483647; nothing imported\n`,
    );
    writeFileSync(csv, Buffer.from([0x41, 0x2c, 0xff, 0xfe, 0x2c, 0x31, 0x2c, 0x30, 0x2c, 0x30, 0x0a]));
    const enc = cli('stock', 'import', '--encoding', 'utf-8', csv);
    expect([enc.code, enc.stderr]).toEqual([1, `zaiko-bridge: ${csv}: not utf-8 text (undecodable_utf-8); nothing imported\n`]);
    expect(cli('stock', 'export').stdout).toBe('product_code,name,stock,unlimited,uses_stock_management_code\r\n');
    writeFileSync(csv, 'A-1\n"B\n');
    const file = cli('stock', 'apply-file', csv, '--wait', '0');
    expect([file.code, file.stderr]).toEqual([1, `zaiko-bridge: ${csv}:2: unterminated quoted field; nothing stored\n`]);
  });
});

describe('tables', () => {
  it('an empty table says what is missing instead of printing a bare header', () => {
    expect(cli('mail', 'list').stdout).toBe('no messages\n');
    expect(cli('uploads', 'list').stdout).toBe('no uploads\n');
    expect(cli('stock', 'skipped').stdout).toBe('no skipped items\n');
    const csv = join(t.dir, 'c.csv');
    writeFileSync(csv, 'A-1,a,,1,0\n'); // unlimited: its import is no change
    cli('stock', 'import', csv);
    expect(cli('stock', 'show', 'A-1').stdout).toContain('changes:\nno changes\n\nskips:\nno skips\n');
  });

  it("stock skipped and stock show list an order mail's skips with its order number", () => {
    const csv = join(t.dir, 'c.csv');
    writeFileSync(csv, 'A-1,a,,1,0\n');
    cli('stock', 'import', csv);
    const db = openDb(join(t.dir, 'data'), 'stock');
    const acceptedAt = Date.parse('2026-12-01T09:00:00Z');
    const items = [
      { code: 'A-1', quantity: 2 },
      { code: 'NOPE', quantity: 1 },
    ];
    applyOrder(db, { shop: SHOP.id, key: 'ORD-7', orderNumber: 'ORD-7', qid: 'Q7', acceptedAt, items });
    db.close();
    expect(cli('stock', 'skipped', '--reason', 'unlimited_stock', '--json').stdout).toBe(
      JSON.stringify(
        {
          skips: [
            {
              uploadId: null,
              shop: SHOP.id,
              product_code: 'A-1',
              reason: 'unlimited_stock',
              rawStock: null,
              receivedAt: '2026-12-01T09:00:00.000Z',
              source: 'order',
              orderNumber: 'ORD-7',
              orderMail: 'Q7',
              quantity: 2,
            },
          ],
        },
        null,
        2,
      ) + '\n',
    );
    expect(cli('stock', 'skipped').stdout).toMatch(/order ORD-7 +\S+ +NOPE +unknown_code +sold 1 /);
    expect(cli('stock', 'show', 'A-1').stdout).toMatch(
      /skips:\nupload\/order +reason +value +at\norder ORD-7 +unlimited_stock +sold 2 +2026-12-01T09:00:00/,
    );
    expect(JSON.parse(cli('stock', 'show', 'A-1', '--json').stdout).skips).toEqual([
      expect.objectContaining({ source: 'order', uploadId: null, orderNumber: 'ORD-7', reason: 'unlimited_stock' }),
    ]);
  });

  it('uploads show prints a 200,000-item upload, and pages through it with --limit/--offset', () => {
    const db = openDb(join(t.dir, 'data'), 'stock');
    const items = Array.from({ length: 200_000 }, (_, i) => ({ code: `CODE-${i}`, rawStock: String(i % 7) }));
    const id = new UploadStore(db).insert(SHOP.id, { source: 'http', charset: 'utf-8' }, items);
    db.close();
    const r = spawnSync(process.execPath, [CLI, 'uploads', 'show', String(id), '--config', config], {
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3 + 1 + 200_000); // two summary lines, a blank line, the header, the items
    expect(lines.at(-1)).toMatch(/^199999\s+CODE-199999\s+"2"\s+-\s+-$/);
    const page = cli('uploads', 'show', String(id), '--limit', '2', '--offset', '199997');
    expect(
      page.stdout
        .trimEnd()
        .split('\n')
        .slice(4)
        .map((l) => l.split(/\s+/)[0]),
    ).toEqual(['199997', '199998']);
    const json = JSON.parse(cli('uploads', 'show', String(id), '--limit', '3', '--offset', '10', '--json').stdout);
    expect(json.items.map((i: { seq: number }) => i.seq)).toEqual([10, 11, 12]);
    const list = cli('uploads', 'list', '--limit', '1');
    expect(list.stderr).toBe('(1 shown; --offset 1 for the next ones)\n');
  });
});

describe('mail check and mail show', () => {
  it('mail check refuses a file that is not a mail (exit 1) and still reads one that is', () => {
    const csv = join(t.dir, 'catalog.csv');
    writeFileSync(csv, 'product_code,name,stock\nA,a,1\n');
    const r = cli('mail', 'check', csv);
    expect([r.code, r.stderr]).toEqual([
      1,
      `zaiko-bridge: ${csv}: not a mail (line 1 is not a header field); give the .eml file of a message, headers first\n`,
    ]);
    writeFileSync(csv, '');
    expect(cli('mail', 'check', csv).stderr).toContain('not a mail (the file is empty)');
    writeFileSync(csv, 'X-Thing: 1\n\nbody\n');
    expect(cli('mail', 'check', csv).stderr).toContain('not a mail (no From, To, Subject, Date or Message-ID header)');
    expect(cli('mail', 'check', join(FIXTURES, 'mail', 'order-iso2022jp.eml')).code).toBe(0);
  });

  it('mail show says --raw and resend cannot work when spool.keepDays is 0', () => {
    const ledger = openDb(join(t.dir, 'data'), 'ledger');
    ledger
      .prepare(
        `INSERT INTO messages (id, received_at, mail_from, size, spool_path, spool_removed, forward)
      VALUES ('QGONE', ?, 'a@b.example', 1, ?, 1, 'none')`,
      )
      .run(Date.now(), join(t.dir, 'data', 'spool', 'QGONE'));
    ledger.close();
    const why = 'spool file removed once delivered (spool.keepDays: 0): mail show --raw and mail resend need spool.keepDays above 0';
    expect(cli('mail', 'show', 'QGONE').stdout).toContain(`spool: ${why}\n`);
    const raw = cli('mail', 'show', 'QGONE', '--raw');
    expect([raw.code, raw.stderr]).toEqual([1, `zaiko-bridge: QGONE: ${why}\n`]);
  });
});
