// Redis Sentinel failover under load, with real processes (dist/cli.js): master + 2 replicas + 3
// sentinels on loopback; two relays (own instance, own dataDir), one receiver and two stock workers
// (sharing one stock.db). Steady order mail (each a delivery and a forward) and uploads; kill -9 the
// master mid-load; then stop every sentinel for a while. Nothing acknowledged is lost, and the relays
// keep answering 250 throughout (spool and ledger are local). Figures are printed for docs/SCALING.md.
// Short in `npm test`; `npm run test:reliability` runs longer rounds.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { stringify } from 'yaml';
import { openDb, type DB } from '../../src/db/open.js';
import { tempDir, SHOP, uniqueName } from '../helpers/env.js';
import { runAsync } from '../helpers/cli.js';
import { until, freePort, sleep } from '../helpers/net.js';
import { startSink, sendMail, type Sink } from '../helpers/smtp.js';
import { post, form, auth, items } from '../helpers/http.js';
import { startSentinelTopology, MASTER_NAME, type SentinelTopology } from '../helpers/sentinel.js';
import { requireTool } from '../helpers/processes.js';

const ROUND_MS = Number(process.env.RELIABILITY_FAILOVER_S ?? 12) * 1000;
const SENTINEL_OUTAGE_MS = Number(process.env.RELIABILITY_SENTINEL_OUTAGE_MS ?? 10_000);
const DRAIN_MS = 60_000;
const MAIL_GAP_MS = 100;
const UPLOAD_GAP_MS = 200;
const FORWARD = SHOP.forwardTo;
const SUBJECT = `=?UTF-8?B?${Buffer.from(SHOP.orderMail.subject).toString('base64')}?=`;

interface Role {
  name: string;
  proc: ChildProcess;
  log: () => string;
}

const orderMail = (n: number) =>
  Buffer.from(
    [
      'From: order@croft-zakka.example.jp',
      `To: customer-${n}@example.net`,
      `Subject: ${SUBJECT}`,
      `Message-ID: <fo-${n}@cart.test>`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      `注文番号: FO-${n}`,
      '商品コード: P1',
      '数量: 1',
      '',
    ].join('\r\n'),
  );

describe('failover: Redis Sentinel under load', () => {
  let t: ReturnType<typeof tempDir>;
  let topo: SentinelTopology;
  let sink: Sink;
  const roles: Role[] = [];

  function spawnRole(name: string, role: string, config: string, ready: string): Promise<Role> {
    const proc = runAsync([role, '--config', config]);
    let tail = '';
    proc.stderr!.on('data', (d) => {
      tail = (tail + d).slice(-2_000_000);
    });
    const r = { name, proc, log: () => tail };
    roles.push(r);
    return until(() => tail.includes(ready) && r, 30_000, `${name} ready`);
  }

  beforeAll(async () => {
    requireTool('redis-sentinel'); // missing: fails naming the package, never skipped
    t = tempDir();
    topo = await startSentinelTopology(join(t.dir, 'redis'));
    sink = await startSink();
  }, 60_000);
  afterAll(async () => {
    for (const r of roles) {
      if (r.proc.exitCode === null && r.proc.signalCode === null) {
        const gone = new Promise((res) => r.proc.once('exit', res));
        r.proc.kill('SIGKILL');
        await gone;
      }
    }
    await sink?.close();
    await topo?.stop();
    t?.cleanup();
  });

  it('loses nothing acknowledged through a master kill and a sentinel outage; the relays keep answering 250', async () => {
    const redis = { sentinels: topo.sentinelAddresses, masterName: MASTER_NAME, prefix: uniqueName('fo') };
    const base = {
      redis,
      log: { level: 'info' },
      upstream: { port: sink.port },
      shops: [SHOP],
      delivery: { backoff: { initial: '500ms', max: '2s' } },
    };
    const configFor = (name: string, extra: Record<string, unknown>) => {
      const path = join(t.dir, `${name}.yaml`);
      writeFileSync(path, stringify({ ...base, ...extra }));
      return path;
    };
    const relayPorts = [await freePort(), await freePort()];
    const receiverPort = await freePort();
    mkdirSync(join(t.dir, 'stock'), { recursive: true });
    const stockConfig = configFor('stock', {
      dataDir: './stock',
      instance: uniqueName('st'),
      receiver: { port: receiverPort, waitMs: '2s' },
    });
    await Promise.all([
      ...relayPorts.map((port, i) =>
        spawnRole(
          `relay${i + 1}`,
          'relay',
          configFor(`relay${i + 1}`, { dataDir: `./relay${i + 1}`, instance: uniqueName(`r${i + 1}`), relay: { port } }),
          'relay listening',
        ),
      ),
      spawnRole('receiver', 'receiver', stockConfig, 'receiver listening'),
      spawnRole('worker1', 'worker', stockConfig, 'stock worker running'),
      spawnRole('worker2', 'worker', stockConfig, 'stock worker running'),
    ]);
    const stockDb: DB = openDb(join(t.dir, 'stock'), 'stock');

    // The load: one mail at a time to each relay in turn, one upload at a time, until told to stop.
    const accepted = new Map<number, number>(); // n → accepted at
    const smtpFailures: string[] = [];
    const uploadAnswers = { ok: 0, other: [] as string[] };
    let n = 0;
    let running = true;
    const mailLoop = (async () => {
      while (running) {
        const i = ++n;
        try {
          const to = [`customer-${i}@example.net`];
          const r = await sendMail({ port: relayPorts[i % 2], from: 'order@croft-zakka.example.jp', to, raw: orderMail(i) });
          if (r.response.startsWith('250')) accepted.set(i, Date.now());
          else smtpFailures.push(r.response);
        } catch (err) {
          smtpFailures.push((err as Error).message);
        }
        await sleep(MAIL_GAP_MS); // a steady rate well under one host's capacity: no backlog to hide a stall
      }
    })();
    let u = 0;
    const uploadLoop = (async () => {
      while (running) {
        u++;
        const r = await post(
          receiverPort,
          '/api/zaikorobot.php',
          form([
            ...auth,
            ...items([
              ['P1', String(u % 50)],
              [`U${u}`, '1'],
            ]),
          ]),
        ).catch((err) => ({ status: 0, text: String(err) }));
        if (r.status === 200 && /^(OK|NG)\b/.test(r.text) && !r.text.includes('auth_error')) uploadAnswers.ok++;
        else uploadAnswers.other.push(`${r.status} ${r.text.trim()}`);
        await sleep(UPLOAD_GAP_MS);
      }
    })();

    const deliveredIds = () => {
      const seen = new Map<number, { deliver: number; forward: number }>();
      for (const m of sink.messages) {
        const id = /Message-ID: <fo-(\d+)@cart\.test>/i.exec(m.raw.toString('latin1'));
        if (!id) continue;
        const e = seen.get(Number(id[1])) ?? { deliver: 0, forward: 0 };
        if (m.to.includes(FORWARD)) e.forward++;
        if (m.to.some((a) => a.startsWith('customer-'))) e.deliver++;
        seen.set(Number(id[1]), e);
      }
      return seen;
    };
    /** Time from `since` until a mail accepted after it is delivered and an upload received after it applied. */
    const resumeAfter = async (since: number) => {
      const [mail, apply] = await Promise.all([
        until(
          () => {
            const seen = deliveredIds();
            return [...accepted].some(([i, at]) => at > since && seen.get(i)?.deliver) && Date.now();
          },
          90_000,
          'deliveries to resume',
        ),
        until(
          () => {
            const at = stockDb
              .prepare('SELECT MIN(applied_at) FROM uploads WHERE received_at > ? AND status = ?')
              .pluck()
              .get(since, 'applied');
            return typeof at === 'number' && at;
          },
          90_000,
          'applies to resume',
        ),
      ]);
      return { mailMs: mail - since, applyMs: apply - since };
    };
    const withLogs = <T>(p: Promise<T>) =>
      p.catch((err) => {
        for (const r of roles) {
          const lines = r
            .log()
            .split('\n')
            .filter((l) => /"level":(40|50|60)/.test(l) && !l.includes('jobs not added'));
          console.log(`--- ${r.name}\n${lines.slice(-12).join('\n')}`);
        }
        throw err;
      });

    // Round 1: kill -9 the master a third into the round.
    await sleep(ROUND_MS / 3);
    const killedAt = Date.now();
    const oldMaster = await topo.killMaster();
    const newMaster = await topo.waitForNewMaster(oldMaster);
    const failoverMs = Date.now() - killedAt;
    const round1 = await withLogs(resumeAfter(killedAt));
    await sleep(Math.max(0, ROUND_MS - (Date.now() - killedAt)));
    const during = [...accepted.values()].filter((at) => at >= killedAt && at <= killedAt + round1.mailMs).length;
    const afterRound1 = { mails: accepted.size, acknowledgedBetweenKillAndResume: during, smtpFailures: smtpFailures.length };

    // Round 2: every sentinel down; the master stays up, so work goes on; then they come back.
    await topo.stopSentinels();
    const sentinelsDownAt = Date.now();
    await sleep(SENTINEL_OUTAGE_MS);
    await topo.startSentinels();
    const sentinelsBackAt = Date.now();
    const round2 = await withLogs(resumeAfter(sentinelsBackAt));
    await sleep(ROUND_MS / 2);
    running = false;
    await Promise.all([mailLoop, uploadLoop]);

    // Drain: every acknowledged mail delivered and forwarded, every answered upload applied (bounded).
    const countApplied = () => stockDb.prepare("SELECT COUNT(*) FROM uploads WHERE status = 'applied'").pluck().get() as number;
    const done = () => {
      const seen = deliveredIds();
      return [...accepted.keys()].every((i) => seen.get(i)?.deliver && seen.get(i)?.forward) && countApplied() >= uploadAnswers.ok;
    };
    await until(done, DRAIN_MS, 'every acknowledged mail and answered upload to be done').catch(() => undefined);

    const seen = deliveredIds();
    const lost = [...accepted.keys()].filter((i) => !seen.get(i)?.deliver || !seen.get(i)?.forward);
    const duplicated = [...seen.values()].reduce((s, e) => s + Math.max(0, e.deliver - 1) + Math.max(0, e.forward - 1), 0);
    const stored = stockDb.prepare('SELECT COUNT(*) FROM uploads').pluck().get() as number;
    const applied = countApplied();
    const recreated = roles.reduce((s, r) => s + (r.log().match(/looks dead/g) ?? []).length, 0);
    const figures = {
      roundMs: ROUND_MS,
      sentinelOutageMs: SENTINEL_OUTAGE_MS,
      oldMaster,
      newMaster,
      failoverMs,
      mails: {
        acknowledged: accepted.size,
        delivered: accepted.size - lost.length,
        lost: lost.length,
        duplicated,
        notAcknowledged: smtpFailures.length,
      },
      uploads: {
        answered: uploadAnswers.ok,
        stored,
        applied,
        lost: Math.max(0, uploadAnswers.ok - applied),
        otherAnswers: uploadAnswers.other.length,
      },
      resumeAfterKill: round1,
      resumeAfterSentinelsBack: round2,
      sentinelsDownMs: sentinelsBackAt - sentinelsDownAt,
      afterRound1,
      workersRecreated: recreated,
    };
    console.log(`FAILOVER ${JSON.stringify(figures)}`);
    stockDb.close();

    expect(lost, `lost mails ${lost.slice(0, 10).join(',')}`).toEqual([]);
    expect(figures.uploads.lost).toBe(0);
    expect(smtpFailures, 'every SMTP answer during the failover was 250').toEqual([]);
    expect(
      uploadAnswers.other.filter((a) => !a.startsWith('503')),
      'upload answers other than OK/NG/503',
    ).toEqual([]);
    expect(accepted.size).toBeGreaterThan(0);
    expect(applied).toBeGreaterThan(0);
  }, 300_000);
});
