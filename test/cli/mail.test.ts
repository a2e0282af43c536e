// mail flush, resend, show against a running relay (in this process) and real Redis.
import { describe, it, expect, inject } from 'vitest';
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { startRelay } from '../../src/roles/relay.js';
import { tempDir, SHOP, uniqueName, log, FIXTURES } from '../helpers/env.js';
import { startSink, sendMail } from '../helpers/smtp.js';
import { run } from '../helpers/cli.js';
import { until } from '../helpers/net.js';

const redisUrl = inject('redisUrl');

describe('mail commands', () => {
  it('flush retries a deferred delivery now; resend --forward sends the copy again; show and --raw', async () => {
    const t = tempDir();
    const sink = await startSink();
    sink.script.set('slow@example.net', [451]);
    const config = join(t.dir, 'zb.yaml');
    writeFileSync(
      config,
      stringify({
        dataDir: './data',
        instance: uniqueName('m'),
        redis: { url: redisUrl, prefix: uniqueName('m') },
        relay: { port: 0 },
        upstream: { port: sink.port },
        delivery: { backoff: { initial: '1h', max: '1h' } },
        spool: { keepDays: 1 },
        shops: [SHOP],
      }),
    );
    const relay = await startRelay(loadConfig(config).config, redisUrl, log);
    const cli = (...args: string[]) => run([...args, '--config', config]);
    try {
      await sendMail({
        port: relay.port!,
        from: SHOP.senders[0],
        to: ['slow@example.net'],
        raw: readFileSync(join(FIXTURES, 'mail', 'order-iso2022jp.eml')),
      });
      await until(() => sink.messages.some((m) => m.to.includes(SHOP.forwardTo)), 10_000, 'the forward');
      const id = relay.ledger.list({ limit: 1 })[0].id;
      await until(() => relay.ledger.recipients(id, 'deliver')[0].status === 'deferred', 10_000, 'the deferral');
      const listed = JSON.parse(cli('mail', 'list', '--status', 'deferred', '--json').stdout).messages;
      expect(listed.map((m: any) => m.id)).toEqual([id]);
      expect(Object.keys(listed[0])).toEqual([
        'id',
        'receivedAt',
        'from',
        'to',
        'subject',
        'shop',
        'isOrder',
        'orderNumber',
        'forward',
        'status',
      ]);

      expect(cli('mail', 'flush').stdout).toBe('1 deferred job(s) scheduled now\n');
      await until(() => sink.messages.some((m) => m.to.includes('slow@example.net')), 10_000, 'delivery after flush');

      const resend = cli('mail', 'resend', id, '--forward');
      expect(resend.code).toBe(0);
      expect(resend.stderr).toContain('counts this order again');
      await until(() => sink.messages.filter((m) => m.to.includes(SHOP.forwardTo)).length === 2, 10_000, 'the second copy');

      const shown = JSON.parse(cli('mail', 'show', id, '--json').stdout);
      expect(shown).toMatchObject({
        id,
        isOrder: true,
        orderNumber: '20261126-0001',
        forward: 'sent',
        items: [
          { code: 'TNG-AI-01', quantity: 2 },
          { code: 'MZR-SET-5', quantity: 1 },
        ],
      });
      expect(shown.recipients.find((r: any) => r.kind === 'deliver')).toMatchObject({ status: 'sent', attempts: 2 });
      // design.md Interface: one list entry (with status), then the message's details; shopBy is ours.
      expect(Object.keys(shown)).toEqual([
        'id',
        'receivedAt',
        'from',
        'to',
        'subject',
        'shop',
        'isOrder',
        'orderNumber',
        'forward',
        'status',
        'shopBy',
        'messageId',
        'client',
        'helo',
        'authUser',
        'size',
        'spool',
        'items',
        'flags',
        'forwardReason',
        'recipients',
      ]);
      expect(shown).toMatchObject({ status: 'sent', to: ['slow@example.net'], shopBy: 'sender', client: '127.0.0.1' });
      expect(Object.keys(shown.recipients[0])).toEqual(['kind', 'address', 'status', 'attempts', 'response', 'updatedAt', 'nextAttemptAt']);
      const raw = cli('mail', 'show', id, '--raw').stdout;
      expect(raw).toMatch(/^Received: from /);
      expect(raw).toContain('Message-ID: <20261126101503.0001@cart.craftcart.example>');
      expect(cli('mail', 'resend', 'QNOPE').code).toBe(1);
    } finally {
      await relay.close();
      await sink.close();
      t.cleanup();
    }
  });
});
