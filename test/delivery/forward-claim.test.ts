// A forward-once claim follows the forward's fate: a forward that fails for good (5xx from the import
// address, or delivery.maxLifetime passed) gives the claim back in the transaction that records the
// failure, so the next mail of that order is forwarded. Real SMTP sink, real Redis, real ledger.
import { describe, it, expect } from 'vitest';
import { relayPerTest } from '../helpers/relay.js';
import { messageView } from '../../src/queries/mail.js';
import { SHOP } from '../helpers/env.js';
import { sendMail } from '../helpers/smtp.js';
import { until } from '../helpers/net.js';
import { orderMail } from '../helpers/order-mail.js';

const fx = relayPerTest();

const boot = (overrides: Record<string, any> = {}) => fx.start(overrides);
const forwarded = () => fx.sink.messages.filter((m) => m.to.includes(SHOP.forwardTo));
const claims = () => fx.relay!.ledger.db.prepare('SELECT claim, message_id FROM forward_claims').all();
const newest = () => fx.relay!.ledger.list({ limit: 1 })[0];

describe('forward-once claim', () => {
  it('is released when the import address answers 5xx; the next mail of the order is forwarded', async () => {
    const port = await boot();
    fx.sink.script.set(SHOP.forwardTo, [550]);
    await sendMail({ port, from: SHOP.senders[0], to: ['customer@example.net'], raw: orderMail('20261201-0900') });
    await until(() => newest()?.status === 'failed', 10_000, 'the forward failed');
    const first = newest();
    expect(first.forward).toBe('failed');
    expect(first.forward_reason).toMatch(
      /^forward failed: .*550.*; claim order:20261201-0900 released: a later mail of this order will be forwarded$/,
    );
    expect(messageView(fx.relay!.ledger, first.id)!.forwardReason).toBe(first.forward_reason);
    expect(claims()).toEqual([]);

    // The cart's next mail of the same order (its copy to the shop, a reminder): forwarded this time.
    await sendMail({ port, from: SHOP.senders[0], to: ['shop@croft-zakka.example.jp'], raw: orderMail('20261201-0900') });
    await until(() => forwarded().length === 1, 10_000, 'the second mail forwarded');
    const second = newest();
    expect(second.id).not.toBe(first.id);
    await until(() => fx.relay!.ledger.message(second.id)?.forward === 'sent', 5000, 'its forward recorded');
    expect(claims()).toEqual([{ claim: 'order:20261201-0900', message_id: second.id }]);

    // And the one after that is suppressed again: the claim is held by a forward that was sent.
    await sendMail({ port, from: SHOP.senders[0], to: ['customer@example.net'], raw: orderMail('20261201-0900') });
    await until(() => newest().id !== second.id && newest().status === 'sent', 10_000, 'the third mail delivered');
    expect([newest().forward, newest().forward_reason]).toEqual([
      'suppressed',
      `forward-once: order:20261201-0900 already forwarded with ${second.id}`,
    ]);
  });

  it('is released when delivery.maxLifetime passes with the import address deferring', async () => {
    const port = await boot({ delivery: { maxLifetime: 1 } }); // 1 ms: the first 4xx is already past it
    fx.sink.script.set(SHOP.forwardTo, [451]);
    await sendMail({ port, from: SHOP.senders[0], to: ['customer@example.net'], raw: orderMail('20261201-0901') });
    await until(() => newest()?.status === 'failed', 10_000, 'the forward given up');
    expect(newest().forward_reason).toMatch(/^forward failed: gave up after .*451.*; claim order:20261201-0901 released/);
    expect(claims()).toEqual([]);
    await sendMail({ port, from: SHOP.senders[0], to: ['customer@example.net'], raw: orderMail('20261201-0901') });
    await until(() => forwarded().length === 1, 10_000, 'the next mail of the order forwarded');
  });
});
