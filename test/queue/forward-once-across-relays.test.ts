// Forward once across relays: two relay processes (own instance, own dataDir) on one real Redis, each
// given one copy of the same 100 orders at the same time (the customer's copy to one relay, the
// shop's to the other), forward exactly 100 between them; every other copy is delivered and
// suppressed, its ledger naming the relay that holds the order.
import { describe, it, expect, afterEach, inject } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { openDb } from '../../src/db/open.js';
import { tempDir, uniqueName, SHOP } from '../helpers/env.js';
import { startSink, sendMail, type Sink } from '../helpers/smtp.js';
import { orderMail } from '../helpers/order-mail.js';
import { runAsync } from '../helpers/cli.js';
import { freePort, until } from '../helpers/net.js';

const redisUrl = inject('redisUrl');
const ORDERS = 100;
let t: ReturnType<typeof tempDir>;
let sink: Sink | undefined;
const procs: ChildProcess[] = [];

afterEach(async () => {
  for (const p of procs.splice(0)) {
    if (p.exitCode !== null || p.signalCode) continue;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await gone;
  }
  await sink?.close();
  t?.cleanup();
});

async function startRelayProcess(name: string, prefix: string, upstreamPort: number): Promise<{ port: number; dataDir: string }> {
  const port = await freePort();
  const config = join(t.dir, `${name}.yaml`);
  writeFileSync(
    config,
    stringify({
      dataDir: `./${name}`,
      instance: uniqueName(name),
      redis: { url: redisUrl, prefix },
      relay: { port, hostname: `${name}.test` },
      upstream: { port: upstreamPort },
      delivery: { backoff: { initial: '200ms', max: '1s' } },
      shops: [SHOP],
    }),
  );
  const p = runAsync(['relay', '--config', config]);
  procs.push(p);
  let err = '';
  p.stderr!.on('data', (d) => (err += d));
  await until(() => err.includes('relay listening'), 20_000, `relay ${name} listening`);
  return { port, dataDir: join(t.dir, name) };
}

/** Sends `mails` to one relay, `width` sessions at a time. */
async function sendAll(port: number, mails: { to: string; raw: string }[], width = 8): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < mails.length) {
      const m = mails[next++];
      await sendMail({ port, from: SHOP.senders[0], to: [m.to], raw: m.raw });
    }
  };
  await Promise.all(Array.from({ length: width }, lane));
}

describe('forward once across relays', () => {
  it('two relays on one Redis, each given one copy of the same 100 orders at once, forward exactly 100', async () => {
    t = tempDir();
    sink = await startSink();
    const prefix = uniqueName('fo');
    const [a, b] = await Promise.all(['a', 'b'].map((n) => startRelayProcess(n, prefix, sink!.port)));
    const orders = Array.from({ length: ORDERS }, (_, i) => `20261202-${String(i).padStart(4, '0')}`);
    // Each order's two copies differ in Message-ID, as a cart's customer and shop copies do.
    await Promise.all([
      sendAll(
        a.port,
        orders.map((o) => ({ to: 'customer@example.net', raw: orderMail(o) })),
      ),
      sendAll(
        b.port,
        orders.map((o) => ({ to: 'shop@croft-zakka.example.jp', raw: orderMail(o) })),
      ),
    ]);
    const forwards = () => sink!.messages.filter((m) => m.to.includes(SHOP.forwardTo));
    await until(() => sink!.messages.length >= 2 * ORDERS + ORDERS, 60_000, 'every copy delivered, every order forwarded');

    // Both ledgers final: every forward either sent or suppressed, nothing left to run.
    const ledgers = [a, b].map((r) => openDb(r.dataDir, 'ledger', { readonly: true }));
    try {
      const states = () =>
        ledgers.map((db) => db.prepare('SELECT forward, COUNT(*) AS n FROM messages GROUP BY forward ORDER BY forward').all()) as {
          forward: string;
          n: number;
        }[][];
      const open = () =>
        ledgers.reduce(
          (n, db) =>
            n + (db.prepare("SELECT COUNT(*) FROM message_recipients WHERE status IN ('queued', 'deferred')").pluck().get() as number),
          0,
        );
      await until(() => open() === 0, 30_000, 'both ledgers final');
      const all = states().flat();
      const count = (f: string) => all.filter((s) => s.forward === f).reduce((n, s) => n + s.n, 0);
      expect([count('sent'), count('suppressed')]).toEqual([ORDERS, ORDERS]);
      expect(forwards()).toHaveLength(ORDERS);
      const numbers = new Set(
        forwards().map((m) => /注文番号：([0-9-]+)/.exec(Buffer.from(m.raw.toString().split('\r\n\r\n')[1], 'base64').toString())?.[1]),
      );
      expect(numbers.size).toBe(ORDERS);
      // A copy suppressed because the other relay holds its order says which message and relay.
      const reasons = ledgers.flatMap(
        (db) => db.prepare("SELECT forward_reason FROM messages WHERE forward = 'suppressed'").pluck().all() as string[],
      );
      expect(
        reasons.every((r) => /^forward-once: order:20261202-\d{4} already forwarded with Q[0-9A-Z]+ on relay [ab]-[0-9a-f]+$/.test(r)),
      ).toBe(true);
    } finally {
      for (const db of ledgers) db.close();
    }
  });
});
