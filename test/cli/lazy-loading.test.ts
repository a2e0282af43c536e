// Each command loads what it uses (issue 16): operator commands that read SQLite load no BullMQ, ioredis or
// mail parser, and the stock worker process (`worker`, as the worker unit runs it) no SMTP server, mail parser or
// web console. The packages a real CLI process imports are recorded by a module resolve hook.
import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest';
import { readFileSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { spawnSync } from 'node:child_process';
import { stringify } from 'yaml';
import { tempDir, uniqueName, SHOP } from '../helpers/env.js';
import { CLI } from '../helpers/cli.js';
import { spawnTracked } from '../helpers/processes.js';
import { until } from '../helpers/net.js';

const HOOKS = pathToFileURL(join(import.meta.dirname, '..', 'helpers', 'package-hooks.mjs')).href;
const REGISTER = `data:text/javascript,import { register } from 'node:module'; register(${JSON.stringify(HOOKS)});`;
const MAIL_AND_WEB = ['smtp-server', 'mailparser', 'nodemailer', '@zone-eu/mailsplit', 'libmime', 'prom-client'];

let t: ReturnType<typeof tempDir>;
let config: string;
let record: string;

beforeAll(() => {
  t = tempDir();
  config = join(t.dir, 'zb.yaml');
  record = join(t.dir, 'packages.txt');
  writeFileSync(
    config,
    stringify({
      dataDir: './data',
      log: { level: 'info' },
      redis: { url: inject('redisUrl'), prefix: uniqueName('lazy') },
      upstream: { outbox: './outbox' },
      shops: [SHOP],
    }),
  );
  writeFileSync(join(t.dir, 'catalog.csv'), 'TNG-AI-01,藍,20,0,0\n');
  expect(spawnSync(process.execPath, [CLI, 'stock', 'import', join(t.dir, 'catalog.csv'), '--config', config]).status).toBe(0);
});
afterAll(() => t.cleanup());

const nodeArgs = (args: string[]) => ['--expose-gc', '--import', REGISTER, CLI, ...args, '--config', config];
const env = () => ({ ...process.env, RECORD_PACKAGES: record });

/** The packages `zaiko-bridge ...args` imported (it ran to its end, exit 0). */
function packagesOf(args: string[]): Set<string> {
  rmSync(record, { force: true });
  const r = spawnSync(process.execPath, nodeArgs(args), { encoding: 'utf8', env: env(), timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  return new Set(readFileSync(record, 'utf8').split('\n').filter(Boolean));
}

describe('commands load what they use', () => {
  it.each([
    ['mail', 'list'],
    ['stock', 'show', 'TNG-AI-01'],
    ['uploads', 'list'],
    ['config', 'check'],
  ])('%s %s loads no BullMQ, ioredis, SMTP server or mail parser', (...args: string[]) => {
    const pkgs = packagesOf(args);
    expect(pkgs).toContain('commander'); // the hook saw the CLI's imports
    for (const heavy of ['bullmq', 'ioredis', ...MAIL_AND_WEB]) expect(pkgs).not.toContain(heavy);
  });

  it('the stock worker loads BullMQ and SQLite, and no SMTP server, mail parser, mail sender or web console', async () => {
    rmSync(record, { force: true });
    const proc = spawnTracked(process.execPath, nodeArgs(['worker']), { env: env(), stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    proc.stderr!.on('data', (d) => (err += d));
    await until(() => err.includes('stock worker running'), 30_000, 'worker running');
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await gone;
    expect(existsSync(record)).toBe(true);
    const pkgs = new Set(readFileSync(record, 'utf8').split('\n').filter(Boolean));
    for (const used of ['bullmq', 'ioredis', 'better-sqlite3']) expect(pkgs).toContain(used);
    for (const heavy of MAIL_AND_WEB) expect(pkgs).not.toContain(heavy);
  });
});
