// The command line as operators use it: exit codes, messages, JSON shapes, and `start`'s lifecycle
// with its private redis-server (the real binary).
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { writeFileSync, readFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { tempDir, SHOP, FIXTURES } from '../helpers/env.js';
import { run, runAsync } from '../helpers/cli.js';
import { until, sleep } from '../helpers/net.js';
import { post } from '../helpers/http.js';
import { requireTool } from '../helpers/processes.js';

let t: ReturnType<typeof tempDir>;
let config: string;

function writeConfig(extra: Record<string, any> = {}) {
  config = join(t.dir, 'zb.yaml');
  writeFileSync(
    config,
    stringify({ dataDir: './data', relay: { port: 0 }, receiver: { port: 0 }, upstream: { outbox: './outbox' }, shops: [SHOP], ...extra }),
  );
  return config;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

beforeEach(() => {
  t = tempDir();
  writeConfig();
});
afterEach(() => t.cleanup());

describe('exit codes and messages', () => {
  it('78 with every problem on its own line for an invalid config', () => {
    writeFileSync(
      config,
      stringify({ relay: { port: 'x', bogus: 1 }, shops: [{ id: 'X', forwardTo: 'nope', zaikoRobot: { userId: 'a', password: 'b' } }] }),
    );
    const r = run(['config', 'check', '--config', config]);
    expect(r.code).toBe(78);
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).toMatch(/^zaiko-bridge: /);
    expect(r.stderr).toContain('relay.bogus: unknown key');
    expect(r.stderr).toContain('shops[0].forwardTo: invalid email');
    expect(r.stderr).toContain('shops[0].id: must match [a-z0-9-]+');
    expect(lines).toHaveLength(4);
    expect(run(['config', 'check', '--config', join(t.dir, 'missing.yaml')]).code).toBe(78);
  });

  it('0 for config check, with secrets masked; hash-password makes a working hash', () => {
    const r = run(['config', 'check', '--config', config]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('zr-croft01');
    expect(r.stdout).not.toContain('s3cret-pass');
    const h = run(['config', 'hash-password'], { input: 'pw\n' });
    expect(h.stdout).toMatch(/^scrypt\$/);
  });

  it('2 for usage errors, 0 for --help and --version', () => {
    expect(run(['no-such-command']).code).toBe(2);
    expect(run(['stock', 'show']).code).toBe(2);
    expect(run(['--help']).code).toBe(0);
    expect(run(['queue', 'stats', '--help']).stdout).toContain('--config');
    expect(run(['--version']).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('1 naming the id for an unknown upload, message or product', () => {
    const r = run(['uploads', 'show', '42', '--config', config]);
    expect([r.code, r.stderr]).toEqual([1, 'zaiko-bridge: no upload 42\n']);
    expect(run(['mail', 'show', 'QNOPE', '--config', config]).stderr).toContain('no message QNOPE');
    expect(run(['stock', 'show', 'NOPE', '--config', config]).code).toBe(1);
  });

  it('69 naming the (masked) URL when Redis is unreachable', () => {
    const r = run(['queue', 'stats', '--config', config], { env: { ZAIKO_BRIDGE_REDIS_URL: 'redis://u:secret@127.0.0.1:1' } });
    expect(r.code).toBe(69);
    expect(r.stderr).toContain('redis://****@127.0.0.1:1');
    expect(r.stderr).not.toContain('secret');
  });

  it('db migrate is repeatable', () => {
    expect(run(['db', 'migrate', '--config', config]).stdout).toMatch(/ledger\.db: \d+ migration\(s\) applied/);
    expect(run(['db', 'migrate', '--config', config]).stdout).toContain('ledger.db: 0 migration(s) applied');
  });
});

describe('stock and uploads commands', () => {
  it('imports, exports (UTF-8 and Shift_JIS), and refuses a bad row by line number', async () => {
    const csv = join(t.dir, 'c.csv');
    writeFileSync(csv, '\ufeffproduct_code,name,stock,unlimited,uses_stock_management_code\r\nA-1,手ぬぐい,3,0,0\r\nU,u,,1,0\r\n');
    expect(run(['stock', 'import', csv, '--config', config]).stdout).toBe('2 products imported into shop croft-zakka\n');
    const out = run(['stock', 'export', '--config', config]).stdout;
    expect(out).toBe('product_code,name,stock,unlimited,uses_stock_management_code\r\nA-1,手ぬぐい,3,0,0\r\nU,u,,1,0\r\n');
    const sjis = (await import('node:child_process')).spawnSync(process.execPath, [
      join(import.meta.dirname, '../../dist/cli.js'),
      'stock',
      'export',
      '--encoding',
      'shift_jis',
      '--config',
      config,
    ]).stdout;
    expect(sjis.includes(Buffer.from([0x8e, 0xe8]))).toBe(true); // 手 in Shift_JIS
    writeFileSync(csv, 'B,b,1,0,0\nC,c,x,0,0\n');
    const bad = run(['stock', 'import', csv, '--config', config]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('c.csv:2: stock "x"');
    expect(run(['stock', 'show', 'B', '--config', config]).code).toBe(1);
  });

  it('stock show, stock skipped and uploads --json have the documented shapes', () => {
    const csv = join(t.dir, 'c.csv');
    writeFileSync(csv, 'A-1,a,3,0,0\n');
    run(['stock', 'import', csv, '--config', config]);
    const show = JSON.parse(run(['stock', 'show', 'A-1', '--json', '--config', config]).stdout);
    expect(Object.keys(show)).toEqual(
      expect.arrayContaining(['shop', 'product_code', 'name', 'stock', 'unlimited', 'uses_stock_management_code', 'changes', 'skips']),
    );
    expect(JSON.parse(run(['stock', 'skipped', '--json', '--config', config]).stdout)).toEqual({ skips: [] });
    expect(JSON.parse(run(['uploads', 'list', '--json', '--config', config]).stdout)).toEqual({ uploads: [] });
    expect(JSON.parse(run(['mail', 'list', '--json', '--config', config]).stdout)).toEqual({ messages: [] });
  });

  it('mail check tells what the relay would do with a template mail', () => {
    const csv = join(t.dir, 'c.csv');
    writeFileSync(csv, 'TNG-AI-01,a,3,0,0\n');
    run(['stock', 'import', csv, '--config', config]);
    const r = JSON.parse(run(['mail', 'check', join(FIXTURES, 'mail', 'order-iso2022jp.eml'), '--json', '--config', config]).stdout);
    expect(r).toEqual({
      shop: 'croft-zakka',
      shopBy: 'sender',
      isOrder: true,
      orderNumber: '20261126-0001',
      items: [
        { code: 'TNG-AI-01', quantity: 2, known: true, variantProduct: false },
        { code: 'MZR-SET-5', quantity: 1, known: false, variantProduct: false },
      ],
      wouldForward: true,
      reason: 'would forward to import-croft@zaikorobot.example (claim order:20261126-0001)',
    });
    const ship = JSON.parse(
      run(['mail', 'check', join(FIXTURES, 'mail', 'shipping-notice-iso2022jp.eml'), '--json', '--config', config]).stdout,
    );
    expect([ship.isOrder, ship.wouldForward]).toEqual([false, false]);
  });
});

describe('start', () => {
  it('runs its private Redis and every role, and leaves no process or socket behind on SIGTERM', async () => {
    writeConfig({ log: { level: 'info' } });
    const csv = join(t.dir, 'c.csv');
    writeFileSync(csv, 'TNG-AI-01,a,3,0,0\nMZR-SET-5,b,1,0,0\n');
    run(['stock', 'import', csv, '--config', config]);
    const proc = runAsync(['start', '--config', config]);
    let err = '';
    proc.stderr.on('data', (d) => (err += d));
    await until(() => err.includes('zaiko-bridge started') && err.includes('stock worker running'), 20_000, 'start');
    const port = JSON.parse(err.split('\n').find((l) => l.includes('receiver listening'))!).port;
    const redisPid = Number(readFileSync(join(t.dir, 'data', 'redis.pid'), 'utf8'));
    expect(alive(redisPid)).toBe(true);
    const res = await post(port, '/api/zaikorobot.php', readFileSync(join(FIXTURES, 'uploads', 'basic-utf8.form')));
    expect(res.text).toBe('NG\nno_product(product_code=NOPE-404)\n');
    expect(JSON.parse(run(['queue', 'stats', '--json', '--config', config]).stdout).queues.map((q: any) => q.name)).toContain('stock');
    // swaks, a real client, sends the fixtures through the relay of `start`.
    const smtpPort = JSON.parse(err.split('\n').find((l) => l.includes('relay listening'))!).port;
    for (const f of ['order-iso2022jp.eml', 'order-utf8-multipart.eml', 'shipping-notice-iso2022jp.eml']) {
      const swaks = spawnSync(
        requireTool('swaks'),
        [
          '--server',
          `127.0.0.1:${smtpPort}`,
          '--from',
          SHOP.senders[0],
          '--to',
          'customer@example.net',
          '--data',
          `@${join(FIXTURES, 'mail', f)}`,
        ],
        { encoding: 'utf8' },
      );
      expect(swaks.status, swaks.stderr).toBe(0);
      expect(swaks.stdout).toMatch(/<- {2}250 2\.0\.0 Ok: queued as Q/);
    }
    await until(
      () =>
        JSON.parse(run(['mail', 'list', '--json', '--config', config]).stdout).messages.filter((m: any) => m.status === 'sent').length ===
        3,
      20_000,
      'three mails sent',
    );
    expect(
      JSON.parse(run(['mail', 'list', '--json', '--config', config]).stdout)
        .messages.map((m: any) => m.forward)
        .sort(),
    ).toEqual(['none', 'sent', 'sent']);
    const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(alive(redisPid)).toBe(false);
    expect(existsSync(join(t.dir, 'data', 'redis.sock'))).toBe(false);
    expect(readdirSync(join(t.dir, 'data', 'locks')).filter((f) => f.endsWith('.pid'))).toEqual([]);
  });

  it('after a crash, stops the orphaned Redis and starts cleanly; refuses a second start', async () => {
    const first = runAsync(['start', '--config', config]);
    let err = '';
    first.stderr.on('data', (d) => (err += d));
    await until(() => err.includes('zaiko-bridge started') && err.includes('stock worker running'), 20_000, 'first start');
    const workerPid = JSON.parse(err.split('\n').find((l) => l.includes('stock worker running'))!).pid;
    const orphan = Number(readFileSync(join(t.dir, 'data', 'redis.pid'), 'utf8'));
    const second = run(['start', '--config', config]);
    expect(second.code).toBe(75);
    expect(second.stderr).toContain(`is in use by pid ${first.pid}`);
    first.kill('SIGKILL');
    await sleep(200);
    expect(alive(orphan)).toBe(true); // the crash left it behind
    const again = runAsync(['start', '--config', config]);
    let err2 = '';
    again.stderr.on('data', (d) => (err2 += d));
    await until(() => err2.includes('zaiko-bridge started'), 20_000, 'restart');
    expect(err2).toContain('orphaned private redis-server');
    expect(alive(orphan)).toBe(false);
    const exited = new Promise((r) => again.on('exit', r));
    again.kill('SIGTERM');
    await exited;
    // the worker child of the SIGKILLed start followed its parent out
    await until(() => !alive(workerPid), 5000, 'orphaned worker to exit');
  });

  it('exits 69 with the install command when redis-server is missing', () => {
    mkdirSync(join(t.dir, 'bin'));
    const r = run(['start', '--config', config], { env: { PATH: join(t.dir, 'bin') } });
    expect(r.code).toBe(69);
    expect(r.stderr).toContain('apt-get install -y redis-server');
  });
});
