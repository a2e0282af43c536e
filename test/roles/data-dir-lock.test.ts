// One owner per dataDir part, with real processes (dist/cli.js): a second relay on a config whose
// first relay has DATA in flight exits 75 naming the owner's pid and removes nothing; the lock goes
// with its process, even on kill -9; relay, receiver and worker still run side by side on one dataDir.
import { describe, it, expect, inject, beforeEach, afterEach } from 'vitest';
import { INLINE_LIMIT_BYTES } from '../../src/intake/spool/spool.js';
import { writeFileSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { stringify } from 'yaml';
import { tempDir, SHOP, uniqueName, FIXTURES } from '../helpers/env.js';
import { startSink, type Sink } from '../helpers/smtp.js';
import { RawSmtp } from '../helpers/raw-smtp.js';
import { run, runAsync } from '../helpers/cli.js';
import { freePort, until } from '../helpers/net.js';
import { DataDirLock } from '../../src/roles/data-dir-lock.js';

const redisUrl = inject('redisUrl');
let t: ReturnType<typeof tempDir>;
let sink: Sink;
let config: string;
let relayPort: number;
const procs: ChildProcess[] = [];

function spawnRole(role: string, ready: string): Promise<{ proc: ChildProcess; stderr: () => string }> {
  const proc = runAsync([role, '--config', config]);
  procs.push(proc);
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  return until(() => err.includes(ready), 20_000, `${role}: ${ready}`).then(() => ({ proc, stderr: () => err }));
}

function stop(proc: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<unknown> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  const gone = new Promise((r) => proc.once('exit', r));
  proc.kill(signal);
  return gone;
}

beforeEach(async () => {
  t = tempDir();
  sink = await startSink();
  relayPort = await freePort();
  config = join(t.dir, 'zb.yaml');
  writeFileSync(
    config,
    stringify({
      dataDir: './data',
      instance: uniqueName('lock'),
      redis: { url: redisUrl },
      log: { level: 'info' },
      relay: { port: relayPort },
      receiver: { port: 0, dropDir: './drop' },
      upstream: { port: sink.port },
      shops: [SHOP],
    }),
  );
});

afterEach(async () => {
  for (const p of procs.splice(0)) await stop(p, 'SIGKILL');
  await sink.close();
  t.cleanup();
});

describe('dataDir lock', () => {
  it('a second relay exits 75 naming the owner, leaves the in-flight spool file alone; the message is delivered', async () => {
    const first = await spawnRole('relay', 'relay listening');
    const c = await RawSmtp.open(relayPort);
    expect(await c.cmd('EHLO cart.test')).toMatch(/^250/);
    expect(await c.cmd(`MAIL FROM:<${SHOP.senders[0]}>`)).toMatch(/^250/);
    expect(await c.cmd('RCPT TO:<customer@example.net>')).toMatch(/^250/);
    expect(await c.cmd('DATA')).toMatch(/^354/);
    const mail = readFileSync(join(FIXTURES, 'mail', 'shipping-notice-iso2022jp.eml'), 'latin1').replace(/\r?\n/g, '\r\n');
    // Above the spool's inline limit, so its bytes go to a file while they arrive (a small message has none).
    const body = `X-Pad: ${'x'.repeat(70)}\r\n`.repeat(Math.ceil(INLINE_LIMIT_BYTES / 70)) + mail;
    c.write(body.slice(0, INLINE_LIMIT_BYTES + 1000)); // DATA in flight: the spool file exists, no ledger row yet
    const spoolDir = join(t.dir, 'data', 'spool');
    await until(() => readdirSync(spoolDir).length === 1, 10_000, 'the in-flight spool file');
    const inFlight = readdirSync(spoolDir)[0];

    const second = run(['relay', '--config', config]);
    expect(second.code).toBe(75);
    expect(second.stderr).toContain(`zaiko-bridge: dataDir ${join(t.dir, 'data')} is in use by pid ${first.proc.pid}`);
    expect(readdirSync(spoolDir)).toEqual([inFlight]);

    c.write(body.slice(INLINE_LIMIT_BYTES + 1000) + (body.endsWith('\r\n') ? '' : '\r\n') + '.\r\n');
    const reply = await c.reply();
    expect(reply).toMatch(/^250 2\.0\.0 Ok: queued as (\S+)/);
    const qid = /queued as (\S+)/.exec(reply!)![1];
    c.close();
    await until(() => sink.messages.some((m) => m.to.includes('customer@example.net')), 15_000, 'the delivery');
    await until(
      () => JSON.parse(run(['mail', 'show', qid, '--json', '--config', config]).stdout).status === 'sent',
      10_000,
      'sent in the ledger',
    );

    // kill -9: the kernel drops the lock with the process; the next relay starts.
    await stop(first.proc, 'SIGKILL');
    const next = await spawnRole('relay', 'relay listening');
    await stop(next.proc);
    expect(next.proc.exitCode).toBe(0);
  });

  it('a relay whose port is taken exits non-zero at once and leaves nothing running', async () => {
    const squatter = createServer();
    await new Promise<void>((r) => squatter.listen(relayPort, '127.0.0.1', () => r()));
    try {
      const r = run(['relay', '--config', config]); // spawnSync: returns only once the process has exited
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('EADDRINUSE');
      expect(() => DataDirLock.take(join(t.dir, 'data'), ['relay']).release()).not.toThrow();
    } finally {
      squatter.close();
    }
  });

  it('relay, receiver and worker side by side on one dataDir; a second of each exits 75; operator commands work beside them', async () => {
    const relay = await spawnRole('relay', 'relay listening');
    const receiver = await spawnRole('receiver', 'receiver listening');
    const worker = await spawnRole('worker', 'stock worker running');
    for (const [role, owner] of [
      ['relay', relay],
      ['receiver', receiver],
      ['worker', worker],
    ] as const) {
      const again = run([role, '--config', config]);
      expect(again.code, `${role}: ${again.stderr}`).toBe(75);
      expect(again.stderr).toContain(`is in use by pid ${owner.proc.pid} (it holds the ${role} part)`);
    }
    const start = run(['start', '--config', config]);
    expect(start.code).toBe(75);
    expect(JSON.parse(run(['mail', 'list', '--json', '--config', config]).stdout)).toEqual({ messages: [] });
    for (const p of [relay, receiver, worker]) {
      await stop(p.proc);
      expect(p.proc.exitCode).toBe(0);
    }
  });
});
