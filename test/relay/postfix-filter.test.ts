// zaiko-bridge as Postfix's after-queue content filter (FILTER_README, "advanced content filter"):
// Postfix hands each mail to the relay, the relay re-injects into a second smtpd without the filter,
// which delivers to the sink. A real, throwaway Postfix instance, loopback only.
import { describe, it, expect, inject } from 'vitest';
import { readFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
// @ts-expect-error plain JS shared with the benchmarks
import { startPostfix } from '../../bench/postfix.mjs';
import { startRelay } from '../../src/roles/relay.js';
import { tempDir, testConfig, uniqueName, log, FIXTURES, SHOP } from '../helpers/env.js';
import { startSink, sendMail } from '../helpers/smtp.js';
import { freePort, until, sleep } from '../helpers/net.js';

const redisUrl = inject('redisUrl');

describe('Postfix content filter', () => {
  it('passes the fixtures through zaiko-bridge and back; one copy per order reaches zaiko Robot; nothing loops', async () => {
    const t = tempDir();
    chmodSync(t.dir, 0o755);
    const sink = await startSink();
    const [front, reinject, filterPort] = [await freePort(), await freePort(), await freePort()];
    const cfg = testConfig(t.dir, { relay: { port: filterPort }, upstream: { port: reinject } });
    const relay = await startRelay(cfg, redisUrl, log, { queueName: uniqueName('mail') });
    const postfix = await startPostfix(join(t.dir, 'postfix'), {
      port: front,
      main: [`relayhost = [127.0.0.1]:${sink.port}`],
      master: [
        `127.0.0.1:${front} inet n - n - - smtpd`,
        `  -o content_filter=scan:[127.0.0.1]:${filterPort}`,
        'scan unix - - n - 10 smtp',
        '  -o smtp_send_xforward_command=yes',
        '  -o disable_mime_output_conversion=yes',
        `127.0.0.1:${reinject} inet n - n - 10 smtpd`,
        '  -o content_filter=',
        '  -o receive_override_options=no_unknown_recipient_checks,no_header_body_checks,no_milters',
        '  -o smtpd_relay_restrictions=permit_mynetworks,reject',
        '  -o smtpd_authorized_xforward_hosts=127.0.0.0/8',
      ],
    });
    try {
      for (const f of ['order-iso2022jp.eml', 'order-utf8-multipart.eml', 'shipping-notice-iso2022jp.eml']) {
        await sendMail({ port: front, from: SHOP.senders[0], to: ['customer@example.net'], raw: readFileSync(join(FIXTURES, 'mail', f)) });
      }
      // The same order again (the cart's copy to the shop): delivered, not forwarded a second time.
      await sendMail({ port: front, from: SHOP.senders[0], to: ['shop@croft-zakka.example.jp'],
        raw: readFileSync(join(FIXTURES, 'mail', 'order-iso2022jp.eml')) });
      await until(() => sink.messages.length >= 6, 30_000, 'four deliveries and two forwards at the sink');
      await sleep(1000); // anything looping would show up as extra messages by now
      expect(sink.messages).toHaveLength(6);
      const forwards = sink.messages.filter((m) => m.to.includes(SHOP.forwardTo));
      expect(forwards).toHaveLength(2);
      expect(sink.messages.filter((m) => m.to.includes('customer@example.net'))).toHaveLength(3);
      expect(sink.messages.filter((m) => m.to.includes('shop@croft-zakka.example.jp'))).toHaveLength(1);
      for (const m of sink.messages) {
        const received = m.raw.toString('latin1').match(/^Received:/gim) ?? [];
        expect(received.length).toBeLessThan(6); // postfix, zaiko-bridge, postfix: no loop
        expect(m.raw.toString('latin1')).toMatch(/\(zaiko-bridge\)/);
      }
      expect(relay.ledger.list({ limit: 10 }).map((r) => r.forward).sort()).toEqual(['none', 'sent', 'sent', 'suppressed']);
    } finally {
      await postfix.stop();
      await relay.close();
      await sink.close();
      t.cleanup();
    }
  });
});
