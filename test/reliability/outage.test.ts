// Redis gone mid-load (with and without its data) and the upstream down then deferring: nothing
// accepted is lost, the relay keeps answering 250, every message is delivered exactly once.
import { describe, it, expect, inject } from 'vitest';
import { createServer } from 'node:net';
import { startRelay } from '../../src/roles/relay.js';
import { tempDir, testConfig, uniqueName, log, SHOP } from '../helpers/env.js';
import { startSink, sendMail } from '../helpers/smtp.js';
import { freePort, startRedis, until, sleep } from '../helpers/net.js';

const OUTAGE_MS = Number(process.env.RELIABILITY_OUTAGE_MS ?? 2000);
const MESSAGES = 60;
const redisUrl = inject('redisUrl');
const raw = (n: number) => `From: ${SHOP.senders[0]}\r\nSubject: notice ${n}\r\nMessage-ID: <outage-${n}@test>\r\n\r\nbody ${n}\r\n`;
const idOf = (b: Buffer) => Number(/<outage-(\d+)@test>/.exec(b.toString())?.[1]);

describe('Redis outage mid-load', () => {
  for (const keepData of [true, false]) {
    it(`Redis stopped for ${OUTAGE_MS} ms and started ${keepData ? 'with' : 'without'} its data: every 250 is delivered`, async () => {
      const t = tempDir();
      const sink = await startSink();
      const port = await freePort();
      let redis = await startRedis(port, keepData ? t.dir : undefined);
      const relay = await startRelay(testConfig(t.dir, { upstream: { port: sink.port } }), redis.url, log, {
        queueName: uniqueName('mail'),
        sweepMs: 300,
      });
      try {
        const acked: number[] = [];
        for (let n = 0; n < MESSAGES; n++) {
          if (n === 20) await redis.stop();
          if (n === 40) {
            await sleep(OUTAGE_MS);
            redis = await startRedis(port, keepData ? t.dir : undefined);
          }
          const r = await sendMail({ port: relay.port!, from: SHOP.senders[0], to: ['c@example.net'], raw: raw(n) });
          expect(r.response).toMatch(/^250 /);
          acked.push(n);
        }
        await until(() => new Set(sink.messages.map((m) => idOf(m.raw))).size === MESSAGES, 30_000, 'every message delivered');
        expect(acked).toHaveLength(MESSAGES);
      } finally {
        await relay.close();
        await redis.stop();
        await sink.close();
        t.cleanup();
      }
    });
  }
});

describe('upstream down', () => {
  it('refusing connections, then 421, then 250: every message delivered exactly once, on the backoff schedule', async () => {
    const t = tempDir();
    const sinkPort = await freePort();
    const holder = createServer((s) => s.destroy()); // connections to the upstream are reset
    await new Promise<void>((r) => holder.listen(sinkPort, '127.0.0.1', () => r()));
    const cfg = testConfig(t.dir, { upstream: { port: sinkPort }, delivery: { backoff: { initial: '300ms', max: '1s' } } });
    const relay = await startRelay(cfg, redisUrl, log, { queueName: uniqueName('mail') });
    try {
      for (let n = 0; n < 10; n++) await sendMail({ port: relay.port!, from: SHOP.senders[0], to: [`r${n}@example.net`], raw: raw(n) });
      await until(() => relay.ledger.list({ limit: 20 }).every((m) => m.status === 'deferred'), 10_000, 'all deferred');
      await sleep(OUTAGE_MS);
      await new Promise<void>((r) => holder.close(() => r()));
      const sink = await startSink();
      await new Promise<void>((r) => sink.close().then(() => r())); // free the port for a sink on the same port
      const { SMTPServer } = await import('smtp-server');
      const got: number[] = [];
      let refusals = 3;
      const real = new SMTPServer({
        authOptional: true,
        disabledCommands: ['STARTTLS', 'AUTH'],
        logger: false,
        disableReverseLookup: true,
        hideENHANCEDSTATUSCODES: true,
        onRcptTo(_a, _s, cb) {
          if (refusals-- > 0) return cb(Object.assign(new Error('4.3.2 try later'), { responseCode: 421 }));
          cb();
        },
        onData(stream, _s, cb) {
          const chunks: Buffer[] = [];
          stream.on('data', (c) => chunks.push(c));
          stream.on('end', () => {
            got.push(idOf(Buffer.concat(chunks)));
            cb();
          });
        },
      });
      real.on('error', () => {});
      await new Promise<void>((r) => real.listen(sinkPort, '127.0.0.1', () => r()));
      try {
        await until(() => new Set(got).size === 10, 30_000, 'every message delivered after the upstream came back');
        await sleep(500);
        expect(got.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]); // exactly once each
        for (const m of relay.ledger.list({ limit: 20 })) {
          const [r] = relay.ledger.recipients(m.id);
          expect(r.status).toBe('sent');
          expect(r.attempts).toBeGreaterThanOrEqual(2); // at least one deferral, then delivery
        }
      } finally {
        await new Promise<void>((r) => real.close(() => r()));
      }
    } finally {
      await relay.close();
      t.cleanup();
    }
  });
});
