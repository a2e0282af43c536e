import { describe, it, expect } from 'vitest';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { classifyFile, extractItems, findShop, forwardClaim } from '../../src/intake/classify/classify.js';
import { allowList } from '../../src/net/address-list.js';
import { newQueueId } from '../../src/intake/spool/queue-id.js';
import { classifyFailure, backoffDelay } from '../../src/delivery/classify-failure.js';
import { testConfig, tempDir, FIXTURES } from '../helpers/env.js';

const cfg = testConfig('/tmp/unused', {
  shops: [
    {
      id: 'croft-zakka',
      senders: ['order@croft-zakka.example.jp'],
      forwardTo: 'import@zr.example',
      orderMail: { subject: 'ご注文ありがとうございます' },
      zaikoRobot: { userId: 'a', password: 'b' },
    },
    {
      id: 'other',
      senders: ['@other.example'],
      authUsers: ['other-cart'],
      forwardOnce: 'message-id',
      zaikoRobot: { userId: 'c', password: 'd' },
    },
  ],
});
const mail = (name: string) => join(FIXTURES, 'mail', name);

describe('classify', () => {
  it('decodes a folded ISO-2022-JP subject and reads order number and items from the text', async () => {
    const c = await classifyFile(mail('order-iso2022jp.eml'), cfg.shops, { envelopeFrom: 'order@croft-zakka.example.jp' });
    expect(c.shop?.id).toBe('croft-zakka');
    expect(c.subject).toBe('【クロフト雑貨店】ご注文ありがとうございます（注文番号：20261126-0001）');
    expect(c).toMatchObject({ isOrder: true, orderNumber: '20261126-0001', flags: [] });
    expect(c.items).toEqual([
      { code: 'TNG-AI-01', quantity: 2 },
      { code: 'MZR-SET-5', quantity: 1 },
    ]);
    expect(forwardClaim(c.shop!, c, 'Q1')).toBe('order:20261126-0001');
  });

  it('reads a UTF-8 multipart order from its text/plain part', async () => {
    const c = await classifyFile(mail('order-utf8-multipart.eml'), cfg.shops, { envelopeFrom: 'order@croft-zakka.example.jp' });
    expect(c).toMatchObject({ isOrder: true, orderNumber: '20261126-0002', messageId: '<20261126110244.0002@cart.craftcart.example>' });
    expect(c.items).toEqual([
      { code: 'TNG-AI-01', quantity: 2 },
      { code: 'MZR-SET-5', quantity: 1 },
    ]);
  });

  it('does not take a shipping notice for an order', async () => {
    const c = await classifyFile(mail('shipping-notice-iso2022jp.eml'), cfg.shops, { envelopeFrom: 'order@croft-zakka.example.jp' });
    expect([c.shop?.id, c.isOrder, c.items]).toEqual(['croft-zakka', false, []]);
  });

  it('falls back to text/html, and flags an order with no number or items', async () => {
    const t = tempDir();
    const f = join(t.dir, 'h.eml');
    writeFileSync(
      f,
      'From: x@other.example\r\nSubject: =?UTF-8?B?44GU5rOo5paH?=\r\nMessage-ID: <m1@x>\r\n' +
        'Content-Type: text/html; charset=UTF-8\r\n\r\n<p>no items here</p>\r\n',
    );
    const c = await classifyFile(f, cfg.shops, { envelopeFrom: 'x@other.example' });
    expect(c).toMatchObject({ isOrder: true, flags: ['no_order_number', 'no_items'] });
    expect(forwardClaim(c.shop!, c, 'Q1')).toBe('message-id:<m1@x>');
    writeFileSync(
      f,
      'From: x@other.example\r\nSubject: =?UTF-8?B?44GU5rOo5paH?=\r\nContent-Type: text/html; charset=UTF-8\r\n\r\n' +
        '<table><tr><td>商品コード: A-1</td><td>数量：3 個</td></tr></table>\r\n',
    );
    expect((await classifyFile(f, cfg.shops, { envelopeFrom: 'x@other.example' })).items).toEqual([{ code: 'A-1', quantity: 3 }]);
    t.cleanup();
  });

  it('finds the shop by AUTH user, envelope sender or @domain; the header From only tells trusted matches apart', () => {
    const find = (envelopeFrom: string, headerFrom?: string, authUser?: string) =>
      findShop(cfg.shops, { envelopeFrom, authUser }, headerFrom);
    const byAuth = find('a@b.example', undefined, 'other-cart');
    expect([byAuth.shop?.id, byAuth.by]).toEqual(['other', 'auth']);
    expect([find('ORDER@croft-zakka.example.jp').shop?.id, find('ORDER@croft-zakka.example.jp').by]).toEqual(['croft-zakka', 'sender']);
    expect(find('x@other.example').by).toBe('sender');
    // A header From alone is not enough, and says so.
    const fromOnly = find('bounce@x.example', 'shop@other.example');
    expect(fromOnly).toMatchObject({ shop: undefined, by: undefined });
    expect(fromOnly.why).toMatch(/^not other's: only the header From <shop@other.example> names it/);
    expect(find('bounce@x.example', 'shop@x.example').shop).toBeUndefined();
  });

  it('shops[].clients: a match by sender counts only from a listed client; a shop with clients alone matches by client', () => {
    const shops = testConfig('/tmp/unused', {
      shops: [
        { id: 'a', senders: ['@shop.example'], clients: ['192.0.2.0/24'], zaikoRobot: { userId: 'a', password: 'b' } },
        { id: 'b', clients: ['198.51.100.7/32', '2001:db8::/32'], zaikoRobot: { userId: 'c', password: 'd' } },
      ],
    }).shops;
    const find = (envelopeFrom: string, client?: string) => findShop(shops, { envelopeFrom, client }, undefined);
    expect([find('o@shop.example', '192.0.2.9').shop?.id, find('o@shop.example', '192.0.2.9').by]).toEqual(['a', 'sender']);
    expect(find('o@shop.example', '203.0.113.1').shop).toBeUndefined();
    expect(find('o@shop.example', '203.0.113.1').why).toBe("not a's: client 203.0.113.1 is not in its shops[].clients");
    expect(find('o@shop.example').shop).toBeUndefined();
    const byClient = find('any@where.example', '::ffff:198.51.100.7');
    expect([byClient.shop?.id, byClient.by]).toEqual(['b', 'client']);
    expect(find('any@where.example', '2001:db8::5').shop?.id).toBe('b');
  });

  it('pairs each item code with the quantity that follows it', () => {
    expect(
      extractItems(
        '商品コード: A\n数量：2\n商品コード: B\n商品コード: C\n数量: 5',
        cfg.shops[0].orderMail.item.code,
        cfg.shops[0].orderMail.item.quantity,
      ),
    ).toEqual([
      { code: 'A', quantity: 2 },
      { code: 'B', quantity: 1 },
      { code: 'C', quantity: 5 },
    ]);
  });
});

describe('client policy, queue ids, failure classes', () => {
  it('matches CIDRs, IPv6, and IPv4-mapped IPv6 peers', () => {
    const allowed = allowList(['127.0.0.1/32', '::1/128', '192.0.2.0/24']);
    expect(['127.0.0.1', '::ffff:127.0.0.1', '::1', '192.0.2.77', '::FFFF:192.0.2.1'].map(allowed)).toEqual([true, true, true, true, true]);
    expect(['127.0.0.2', '::2', '198.51.100.1', 'garbage'].map(allowed)).toEqual([false, false, false, false]);
  });

  it('makes unique, time-ordered queue ids that BullMQ accepts', () => {
    const ids = Array.from({ length: 1000 }, (_, i) => newQueueId(1_800_000_000_000 + i));
    expect(new Set(ids).size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^Q[0-9A-Z]+$/);
    expect(newQueueId(1) < newQueueId(2_000_000_000_000)).toBe(true);
  });

  it('5xx is permanent, 4xx and network errors are retried; backoff doubles up to max', () => {
    expect(classifyFailure({ responseCode: 550 })).toBe('permanent');
    expect(classifyFailure({ responseCode: 451 })).toBe('retry');
    expect(classifyFailure({ code: 'ECONNREFUSED' })).toBe('retry');
    expect(classifyFailure(undefined)).toBe('retry');
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((a) => backoffDelay(a, 5, 60))).toEqual([5, 10, 20, 40, 60, 60, 60, 60]);
  });
});
