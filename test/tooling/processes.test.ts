// The test tooling: a missing program fails with the Debian package to install; a failing test leaves
// no process behind (each spawned child is a process group, stopped when its test file ends).
import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { requireTool, spawnTracked, spawnedPids, stopSpawned } from '../helpers/processes.js';

/** Running: exists and is not a zombie (an exited process init has not reaped yet). */
function alive(pid: number): boolean {
  try {
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
const ROOT = join(import.meta.dirname, '..', '..');

describe('requireTool', () => {
  const path = process.env.PATH;
  afterEach(() => {
    process.env.PATH = path;
  });

  it('names the Debian package of a missing program, and finds one that is there', () => {
    process.env.PATH = mkdtempSync(join(tmpdir(), 'zb-empty-path-'));
    expect(() => requireTool('swaks')).toThrow('swaks is missing: apt-get install -y swaks');
    expect(() => requireTool('redis-sentinel')).toThrow('apt-get install -y redis-sentinel');
    expect(() => requireTool('systemd-analyze')).toThrow('apt-get install -y systemd');
    expect(() => requireTool('zb-no-such-program')).toThrow('zb-no-such-program is missing from PATH');
    process.env.PATH = path;
    expect(requireTool('redis-server')).toMatch(/\/redis-server$/);
    expect(requireTool('postfix')).toMatch(/\/postfix$/); // /usr/sbin, on PATH or not
  });
});

describe('process groups', () => {
  it('stopSpawned stops a child and what it started (its process group)', async () => {
    const sh = spawnTracked('/bin/sh', ['-c', 'sleep 600 & echo $!; wait'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const grandchild = Number(await new Promise<string>((r) => sh.stdout!.once('data', (d) => r(String(d)))));
    expect(spawnedPids()).toContain(sh.pid);
    expect(alive(grandchild)).toBe(true);
    await stopSpawned();
    expect(spawnedPids()).toEqual([]);
    expect(alive(sh.pid!)).toBe(false);
    await expect.poll(() => alive(grandchild), { timeout: 5000 }).toBe(false);
  });

  it('a failing test file leaves no process behind', () => {
    const dir = mkdtempSync(join(tmpdir(), 'zb-fixture-'));
    const pidFile = join(dir, 'pid');
    try {
      const r = spawnSync(
        process.execPath,
        [join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--config', 'test/fixtures/tooling/vitest.fixture.config.ts'],
        { cwd: ROOT, env: { ...process.env, ZB_FIXTURE_PID_FILE: pidFile }, encoding: 'utf8', timeout: 60_000 },
      );
      expect(r.status, r.stdout + r.stderr).toBe(1); // the fixture failed, as it should
      const pid = Number(readFileSync(pidFile, 'utf8'));
      expect(pid).toBeGreaterThan(1);
      const left = alive(pid);
      if (left) process.kill(pid, 'SIGKILL');
      expect(left, `pid ${pid} (a sleep the failing fixture started) outlived the test run`).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
