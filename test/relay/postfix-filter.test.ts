// zaiko-bridge as Postfix's after-queue content filter (FILTER_README, "advanced content filter"), as the
// README's recipe sets it up: check_client_access gives only the cart's address the FILTER action, Postfix
// hands that mail to the relay with XFORWARD, the relay re-injects into a second smtpd without the filter,
// which delivers to the sink. A real, throwaway Postfix instance, loopback only.
import { describe, it, expect, inject } from 'vitest';
import { readFileSync, chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
// @ts-expect-error plain JS shared with the benchmarks
import { startPostfix } from '../../bench/postfix.mjs';
import { startRelay } from '../../src/roles/relay.js';
import { tempDir, testConfig, uniqueName, log, FIXTURES, SHOP } from '../helpers/env.js';
import { startSink, sendMail } from '../helpers/smtp.js';
import { freePort, until, sleep } from '../helpers/net.js';
import { orderMail } from '../helpers/order-mail.js';
import { requireTool } from '../helpers/processes.js';

const redisUrl = inject('redisUrl');

describe('Postfix content filter (the README recipe)', () => {
  it("filters the cart's mail only (XFORWARD): one copy per order; another client's forged order is not forwarded; no loop", async () => {
    const t = tempDir();
    chmodSync(t.dir, 0o755);
    const sink = await startSink();
    const [front, reinject, filterPort] = [await freePort(), await freePort(), await freePort()];
    const [CART, OTHER] = ['127.0.0.2', '127.0.0.3'];
    const cfg = testConfig(t.dir, {
      relay: { port: filterPort, xforwardClients: ['127.0.0.1/32'] },
      upstream: { port: reinject },
      shops: [{ ...SHOP, clients: [`${CART}/32`] }],
    });
    const relay = await startRelay(cfg, redisUrl, log, { queueName: uniqueName('mail') });
    const filterTable = join(t.dir, 'zaiko-filter.cidr');
    writeFileSync(filterTable, `${CART}/32   FILTER scan:[127.0.0.1]:${filterPort}\n`);
    requireTool('postfix');
    const postfix = await startPostfix(join(t.dir, 'postfix'), {
      port: front,
      main: [`relayhost = [127.0.0.1]:${sink.port}`, `smtpd_client_restrictions = check_client_access cidr:${filterTable}`],
      master: [
        `127.0.0.1:${front} inet n - n - - smtpd`,
        'scan unix - - n - 10 smtp',
        '  -o smtp_send_xforward_command=yes',
        '  -o disable_mime_output_conversion=yes',
        `127.0.0.1:${reinject} inet n - n - 10 smtpd`,
        '  -o content_filter=',
        '  -o smtpd_client_restrictions=',
        '  -o receive_override_options=no_unknown_recipient_checks,no_header_body_checks,no_milters',
        '  -o smtpd_relay_restrictions=permit_mynetworks,reject',
        '  -o smtpd_authorized_xforward_hosts=127.0.0.0/8',
      ],
    });
    try {
      const send = (localAddress: string, to: string, raw: Buffer | string) =>
        sendMail({ port: front, localAddress, from: SHOP.senders[0], to: [to], raw });
      for (const f of ['order-iso2022jp.eml', 'order-utf8-multipart.eml', 'shipping-notice-iso2022jp.eml']) {
        await send(CART, 'customer@example.net', readFileSync(join(FIXTURES, 'mail', f)));
      }
      // The same order again (the cart's copy to the shop): delivered, not forwarded a second time.
      await send(CART, 'shop@croft-zakka.example.jp', readFileSync(join(FIXTURES, 'mail', 'order-iso2022jp.eml')));
      // Another client writes the shop's envelope sender and From: it never reaches zaiko-bridge.
      await send(OTHER, 'customer@example.net', orderMail('20261201-0500'));
      await until(() => sink.messages.length >= 7, 30_000, 'five deliveries and two forwards at the sink');
      // Then the cart's own mail of that order: forwarded (the forged one took no claim).
      await send(CART, 'customer@example.net', orderMail('20261201-0500'));
      await until(() => sink.messages.length >= 9, 30_000, 'the genuine order delivered and forwarded');
      await sleep(1000); // anything looping would show up as extra messages by now
      expect(sink.messages).toHaveLength(9);
      const forwards = sink.messages.filter((m) => m.to.includes(SHOP.forwardTo));
      expect(forwards).toHaveLength(3);
      expect(sink.messages.filter((m) => m.to.includes('customer@example.net'))).toHaveLength(5);
      expect(sink.messages.filter((m) => m.to.includes('shop@croft-zakka.example.jp'))).toHaveLength(1);
      for (const m of sink.messages) {
        const received = m.raw.toString('latin1').match(/^Received:/gim) ?? [];
        expect(received.length).toBeLessThan(6); // postfix, zaiko-bridge, postfix: no loop
      }
      const forged = sink.messages.filter((m) => !/\(zaiko-bridge\)/.test(m.raw.toString('latin1')));
      expect(forged).toHaveLength(1); // the other client's mail went past the filter
      expect(forged[0].to).toEqual(['customer@example.net']);
      const rows = relay.ledger.list({ limit: 10 });
      expect(rows.map((r) => r.forward).sort()).toEqual(['none', 'sent', 'sent', 'sent', 'suppressed']);
      // XFORWARD: the ledger names the cart, not the Postfix that connected; the envelope sender decided.
      expect(new Set(rows.map((r) => r.client_address))).toEqual(new Set([CART]));
      expect(rows.filter((r) => r.is_order).map((r) => r.shop_by)).toEqual(['sender', 'sender', 'sender', 'sender']);
    } finally {
      await postfix.stop();
      await relay.close();
      await sink.close();
      t.cleanup();
    }
  });
});
