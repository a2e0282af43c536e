// `npm start` stopped the way an operator or a process manager stops it: `kill -TERM` or `kill -INT` on
// npm's pid. npm runs scripts/start.mjs under `sh -c`; whatever npm and sh do with the signal, every
// process of the tree (start.mjs, the app, the private redis-server) must be gone
// within the 15 s bound, with no port or Redis left behind.
import { describe, it, expect, afterEach } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { tempDir, SHOP } from '../helpers/env.js';
import { until } from '../helpers/net.js';
import { run } from '../helpers/cli.js';
import { createServer } from 'node:net';

const ROOT = join(import.meta.dirname, '..', '..');
const STOP_BOUND_MS = 15_000;

/** Every descendant of `root`, read from /proc (parent pid is the 4th field of /proc/<pid>/stat). */
function descendants(root: number): { pid: number; cmd: string }[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      /* gone meanwhile */
    }
  }
  const out: { pid: number; cmd: string }[] = [];
  const todo = [root];
  while (todo.length) {
    for (const pid of children.get(todo.pop()!) ?? []) {
      let cmd = '';
      try {
        cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      } catch {
        /* gone */
      }
      out.push({ pid, cmd });
      todo.push(pid);
    }
  }
  return out;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return !/^\S+ \S+ Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/\(.*\)/, 'x')); // a zombie is gone
  } catch {
    return false;
  }
};

let t: ReturnType<typeof tempDir>;
let tree: number[] = [];

afterEach(() => {
  for (const pid of tree) if (alive(pid)) process.kill(pid, 'SIGKILL'); // only what this test started
  tree = [];
  t?.cleanup();
});

async function npmStart(
  doc: Record<string, unknown> = {
    dataDir: './data',
    relay: { port: 0 },
    receiver: { port: 0 },
    upstream: { outbox: './outbox' },
    shops: [SHOP],
  },
): Promise<{ npm: ChildProcess; log: () => string }> {
  t = tempDir();
  const config = join(t.dir, 'zb.yaml');
  writeFileSync(config, stringify(doc));
  const npm = spawn('npm', ['start', '--silent'], {
    cwd: ROOT,
    env: { ...process.env, ZAIKO_BRIDGE_CONFIG: config },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  npm.stdout!.on('data', (d) => {
    out += d;
  });
  npm.stderr!.on('data', (d) => {
    out += d;
  });
  await until(() => out.includes('zaiko-bridge started'), 60_000, 'npm start to start');
  return { npm, log: () => out };
}

describe('npm start', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('%s to the npm pid stops every process of the tree', async (signal) => {
    const { npm, log } = await npmStart();
    const before = descendants(npm.pid!);
    tree = [npm.pid!, ...before.map((p) => p.pid)];
    const names = before.map((p) => p.cmd).join('\n');
    for (const part of ['scripts/start.mjs', 'dist/cli.js start', 'redis-server']) expect(names).toContain(part);

    npm.kill(signal);
    const left = await until(() => (tree.some(alive) ? undefined : 'none'), STOP_BOUND_MS, `every process to stop after ${signal}`).catch(
      () =>
        tree
          .filter(alive)
          .map((pid) => before.find((p) => p.pid === pid)?.cmd ?? `npm ${pid}`)
          .join(', '),
    );
    expect(left, log()).toBe('none');
    expect(readdirSync(join(t.dir, 'data'))).not.toContain('redis.sock');
  });

  it('the demo config prints the console URL and its login, and the page logs in with it', async () => {
    // config/example.yaml as shipped, but on free ports and in a temp dataDir (tests run side by side).
    const example = parse(readFileSync(join(ROOT, 'config', 'example.yaml'), 'utf8'));
    const port0 = (section: string) => ({ ...example[section], port: 0 });
    const { npm, log } = await npmStart({
      ...example,
      dataDir: './data',
      relay: port0('relay'),
      receiver: port0('receiver'),
      console: port0('console'),
      upstream: { ...example.upstream, outbox: './outbox' },
    });
    tree = [npm.pid!, ...descendants(npm.pid!).map((p) => p.pid)];
    const lines = log()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg: string; url?: string });
    const url = lines.find((l) => l.msg === 'console listening')?.url;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(lines.map((l) => l.msg)).toContain(
      `console demo login at ${url}: user demo, password zaiko-demo ` +
        '(this user exists in config/example.yaml only; a real config lists its own users)',
    );

    const page = await fetch(`${url}login`);
    const csrf = /name="csrf" value="([^"]+)"/.exec(await page.text())![1];
    const res = await fetch(`${url}login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: `zb_login=${csrf}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: `name=demo&password=zaiko-demo&csrf=${csrf}`,
    });
    expect(res.status).toBe(303);
    const session = /zb_session=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1];
    expect(session).toBeTruthy();
    const overview = await fetch(url!, { redirect: 'manual', headers: { cookie: `zb_session=${session}` } });
    expect(overview.status).toBe(200);
  });

  it('a taken port: start exits 1 with one clear line, stopping what it had started', async () => {
    t = tempDir();
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const port = (holder.address() as { port: number }).port;
    try {
      const config = join(t.dir, 'zb.yaml');
      writeFileSync(
        config,
        stringify({
          dataDir: './data',
          relay: { port },
          receiver: { port: 0 },
          upstream: { outbox: './outbox' },
          shops: [SHOP],
        }),
      );
      const r = run(['start', '--config', config]);
      expect(r.code).toBe(1);
      expect(r.stderr.trimEnd().split('\n').at(-1)).toBe(
        `zaiko-bridge: cannot listen on 127.0.0.1:${port}: the address is already in use (another zaiko-bridge, or another server?)`,
      );
      expect(readdirSync(join(t.dir, 'data'))).not.toContain('redis.sock');
    } finally {
      holder.close();
    }
  });
});
