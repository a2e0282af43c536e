// Reload without a restart, against `zaiko-bridge start` as a real process tree (the stock worker is its
// thread, which start passes each reload on to): SIGHUP and `config reload` swap the config for new sessions while a session opened before
// finishes with the old one; a replaced certificate is served on the next STARTTLS; a broken file or a
// restart key changes nothing that runs.
import { describe, it, expect, beforeEach, afterEach, inject } from 'vitest';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { TLSSocket } from 'node:tls';
import { tempDir, uniqueName, SHOP } from '../helpers/env.js';
import { startSink, sendMail, type Sink } from '../helpers/smtp.js';
import { RawSmtp } from '../helpers/raw-smtp.js';
import { orderMail } from '../helpers/order-mail.js';
import { run, runAsync } from '../helpers/cli.js';
import { until } from '../helpers/net.js';
import { post, send, form, auth, items } from '../helpers/http.js';
import { requireTool, stopSpawned } from '../helpers/processes.js';
import { hashPassword } from '../../src/config/password.js';

const SHOP_B = {
  id: 'kobo-b',
  senders: ['order@kobo-b.example.jp'],
  forwardTo: 'import-b@zaikorobot.example',
  orderMail: { subject: 'ご注文ありがとうございます' },
  zaikoRobot: { userId: 'zr-kobo-b', password: 'b-pass-123' },
};

interface LogLine {
  pid: number;
  msg: string;
  [k: string]: unknown;
}

let t: ReturnType<typeof tempDir>;
let sink: Sink;
let configPath: string;
let base: Record<string, any>;

beforeEach(async () => {
  t = tempDir();
  sink = await startSink();
  configPath = join(t.dir, 'zb.yaml');
  base = {
    dataDir: './data',
    instance: uniqueName('t'),
    redis: { url: inject('redisUrl'), prefix: uniqueName('p') },
    relay: { port: 0, hostname: 'relay.test' },
    receiver: { port: 0, waitMs: 5000 },
    upstream: { port: sink.port },
    delivery: { backoff: { initial: 200, max: 1000 } },
    shops: [SHOP],
  };
});

afterEach(async () => {
  await stopSpawned(); // only the process groups this file started
  await sink.close();
  t.cleanup();
});

const writeConfig = (doc: Record<string, any>) => writeFileSync(configPath, stringify(doc));

/** `zaiko-bridge start` on configPath; resolves once started, with its log and listening ports. */
async function start(): Promise<{ proc: ChildProcess; lines: () => LogLine[]; smtpPort: number; httpPort: number }> {
  const proc = runAsync(['start', '--config', configPath]);
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const lines = () =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as LogLine);
  await until(() => lines().some((l) => l.msg === 'zaiko-bridge started'), 30_000, `start to start:\n${out}`);
  await until(() => lines().some((l) => l.msg === 'stock worker running'), 30_000, 'the stock thread to run');
  const port = (msg: string) => lines().find((l) => l.msg === msg)!.port as number;
  return { proc, lines, smtpPort: port('relay listening'), httpPort: port('receiver listening') };
}

/** Resolves once `count` processes (start; the roles run alone: four) logged `msg` after a reload. */
const logged = (lines: () => LogLine[], msg: string, count = 1) =>
  until(
    () =>
      new Set(
        lines()
          .filter((l) => l.msg === msg)
          .map((l) => l.pid),
      ).size >= count || undefined,
    20_000,
    `${count} × ${msg}`,
  );

const forwardsTo = (address: string) => sink.messages.filter((m) => m.to.includes(address));

describe('reload (SIGHUP, config reload)', () => {
  it('a shop added by reload has its next order forwarded; a session opened before finishes with the old config', async () => {
    writeConfig(base);
    const { proc, lines, smtpPort } = await start();
    const before = await RawSmtp.open(smtpPort);
    expect(await before.cmd('EHLO cart.test')).toMatch(/^250 /m);

    writeConfig({ ...base, shops: [SHOP, SHOP_B] });
    process.kill(proc.pid!, 'SIGHUP');
    await logged(lines, 'config reloaded: new sessions, requests and jobs use it');

    // The session opened before the reload: shop B does not exist for it.
    expect(await before.cmd(`MAIL FROM:<${SHOP_B.senders[0]}>`)).toMatch(/^250 /);
    expect(await before.cmd('RCPT TO:<customer@example.net>')).toMatch(/^250 /);
    expect(await before.cmd('DATA')).toMatch(/^354 /);
    expect(await before.cmd(orderMail('B-1', SHOP_B.senders[0], '<B-1@cart.example>') + '.')).toMatch(/^250 2\.0\.0 Ok: queued as /);
    before.close();
    // A session after it: shop B's order, forwarded to shop B's import address.
    const after = await sendMail({
      port: smtpPort,
      from: SHOP_B.senders[0],
      to: ['customer@example.net'],
      raw: orderMail('B-2', SHOP_B.senders[0], '<B-2@cart.example>'),
    });
    expect(after.response).toMatch(/^250 2\.0\.0 Ok: queued as /);

    await until(() => forwardsTo(SHOP_B.forwardTo).length === 1 || undefined, 20_000, 'the forward of B-2');
    await until(() => forwardsTo('customer@example.net').length === 2 || undefined, 20_000, 'both deliveries');
    expect(forwardsTo(SHOP_B.forwardTo)[0].raw.toString()).toContain('Message-ID: <B-2@cart.example>');
    const list = JSON.parse(run(['mail', 'list', '--json', '--config', configPath]).stdout) as {
      messages: { shop: string | null; forward: string }[];
    };
    expect(list.messages.map((m) => [m.shop, m.forward]).sort()).toEqual(
      [
        ['kobo-b', 'sent'],
        [null, 'none'],
      ].sort(),
    );
  });

  it('a replaced certificate is served on the next STARTTLS; a session upgraded before keeps going', async () => {
    const key = join(t.dir, 'key.pem');
    const cert = join(t.dir, 'cert.pem');
    const makeCert = (cn: string) =>
      execFileSync(
        requireTool('openssl'),
        ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-days', '1', '-keyout', key, '-out', cert],
        {
          stdio: 'ignore',
        },
      );
    makeCert('first.relay.test');
    writeConfig({ ...base, relay: { ...base.relay, tls: { key: 'key.pem', cert: 'cert.pem' } } });
    const { lines, smtpPort } = await start();
    const served = async () => {
      const c = await RawSmtp.open(smtpPort);
      await c.cmd('EHLO cart.test');
      const s = await c.starttls();
      return { s, cn: (s.socket as TLSSocket).getPeerCertificate().subject.CN };
    };
    const first = await served();
    expect(first.cn).toBe('first.relay.test');

    makeCert('second.relay.test');
    const r = run(['config', 'reload', '--config', configPath]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^pid \d+ \(.*relay.*\): reload signalled$/m);
    expect(r.stdout.trim().split('\n')).toHaveLength(1); // one process: the stock thread gets it from start
    await logged(lines, 'config reloaded: new sessions, requests and jobs use it');

    expect((await served()).cn).toBe('second.relay.test');
    expect(await first.s.cmd('EHLO cart.test')).toMatch(/^250 /m);
    first.s.close();
  });

  it('a broken file changes nothing in any process; a restart key is logged and kept; /metrics counts both', async () => {
    writeConfig(base);
    const { proc, lines, smtpPort, httpPort } = await start();

    writeConfig({ ...base, relay: { ...base.relay, port: smtpPort + 1 }, log: { level: 'info' } }); // valid, with a restart key
    process.kill(proc.pid!, 'SIGHUP');
    await logged(lines, 'config reloaded: new sessions, requests and jobs use it');
    expect(lines().filter((l) => l.key === 'relay.port' && /needs a restart/.test(l.msg))).toHaveLength(1); // start alone reads the file

    writeFileSync(configPath, 'shops: [\n'); // not YAML
    const refused = run(['config', 'reload', '--config', configPath]);
    expect(refused.code).toBe(78); // checked first: nothing is signalled
    expect(refused.stdout).toBe('');
    writeConfig({ ...base, shops: [{ ...SHOP, forwardTo: 'not an address' }], relay: { ...base.relay, maxRecipients: 'many' } });
    process.kill(proc.pid!, 'SIGHUP');
    await logged(lines, 'config reload refused: the running config stays');
    const problems = lines().filter((l) => typeof l.problem === 'string' && l.pid === proc.pid);
    expect(problems.map((l) => l.problem)).toEqual([
      'relay.maxRecipients: expected a number, got "many"',
      'shops[0].forwardTo: invalid email',
    ]);

    // Every role still runs on the config it had: mail to the old port, an upload, the stock worker.
    const sent = await sendMail({ port: smtpPort, from: SHOP.senders[0], to: ['customer@example.net'], raw: orderMail('A-1') });
    expect(sent.response).toMatch(/^250 /);
    await until(() => forwardsTo(SHOP.forwardTo).length === 1 || undefined, 20_000, 'the forward of A-1');
    const upload = await post(httpPort, '/api/zaikorobot.php', form([...auth, ...items([['NOPE-1', '3']])]));
    expect(upload.text).toBe('NG\nno_product(product_code=NOPE-1)\n'); // applied by the stock worker, answered in time
    const metrics = (await send(httpPort, 'GET', '/metrics')).text;
    expect(metrics).toMatch(/^zaiko_bridge_config_reload_failures_total 1$/m);
    expect(Number(/^zaiko_bridge_config_reload_last_success_timestamp_seconds (\S+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
  });

  it('reaches each role run alone (relay, receiver, worker, console) by its lock; a console user added by reload logs in', async () => {
    const console0 = { port: 0, users: [{ name: 'sato', password: await hashPassword('sato-pass') }] };
    writeConfig({ ...base, console: console0 });
    const started = ['relay', 'receiver', 'worker', 'console'].map((role) => {
      const proc = runAsync([role, '--config', configPath]);
      let out = '';
      proc.stderr!.on('data', (d) => (out += d));
      return { role, proc, out: () => out };
    });
    const lines = () =>
      started.flatMap((r) =>
        r
          .out()
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as LogLine),
      );
    for (const msg of ['relay listening', 'receiver listening', 'stock worker running'])
      await until(() => lines().some((l) => l.msg === msg) || undefined, 30_000, msg);
    const url = await until(() => lines().find((l) => l.msg === 'console listening')?.url as string | undefined, 30_000, 'console');

    writeConfig({
      ...base,
      console: { ...console0, users: [...console0.users, { name: 'suzuki', password: await hashPassword('suzuki-pass') }] },
    });
    const r = run(['config', 'reload', '--config', configPath]);
    expect(r.code, r.stderr).toBe(0);
    const signalled = r.stdout.trim().split('\n');
    const worker = started.find((s) => s.role === 'worker')!.proc.pid!;
    // The worker's own part (several may share a dataDir), and the webhook pusher's when it holds that one.
    const parts = signalled.flatMap((l) => /\(([^)]*)\)/.exec(l)![1].split(', ')).filter((p) => p !== 'webhook');
    expect(parts.sort()).toEqual(['console', 'receiver', 'relay', `stock-worker-${worker}`]);
    expect(signalled.map((l) => Number(/^pid (\d+)/.exec(l)?.[1])).sort()).toEqual(started.map((s) => s.proc.pid).sort());
    await logged(lines, 'config reloaded: new sessions, requests and jobs use it', 4);

    const page = await fetch(`${url}login`);
    const csrf = /name="csrf" value="([^"]+)"/.exec(await page.text())![1];
    const login = await fetch(`${url}login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: `zb_login=${csrf}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: `name=suzuki&password=suzuki-pass&csrf=${csrf}`,
    });
    expect(login.status).toBe(303);

    writeFileSync(configPath, 'relay: { port: [\n');
    for (const s of started) process.kill(s.proc.pid!, 'SIGHUP');
    await logged(lines, 'config reload refused: the running config stays', 4);
    expect(started.map((s) => s.proc.exitCode)).toEqual([null, null, null, null]);
  });
});
