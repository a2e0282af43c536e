import { describe, it, expect } from 'vitest';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { classifyFile, extractItems, findShop, forwardClaim } from '../../src/relay/classify/classify.js';
import { allowList } from '../../src/relay/receive/client-policy.js';
import { newQueueId } from '../../src/relay/spool/queue-id.js';
import { classifyFailure, backoffDelay } from '../../src/delivery/classify-failure.js';
import { testConfig, tempDir, FIXTURES } from '../helpers/env.js';

const cfg = testConfig('/tmp/unused', { shops: [
  { id: 'croft-zakka', senders: ['order@croft-zakka.example.jp'], forwardTo: 'import@zr.example', orderMail: { subject: 'ご注文ありがとうございます' },
    zaikoRobot: { userId: 'a', password: 'b' } },
  { id: 'other', senders: ['@other.example'], authUsers: ['other-cart'], forwardOnce: 'message-id',
    zaikoRobot: { userId: 'c', password: 'd' } },
] });
const mail = (name: string) => join(FIXTURES, 'mail', name);

describe('classify', () => {
  it('decodes a folded ISO-2022-JP subject and reads order number and items from the text', async () => {
    const c = await classifyFile(mail('order-iso2022jp.eml'), cfg.shops, 'order@croft-zakka.example.jp', undefined);
    expect(c.shop?.id).toBe('croft-zakka');
    expect(c.subject).toBe('【クロフト雑貨店】ご注文ありがとうございます（注文番号：20261126-0001）');
    expect(c).toMatchObject({ isOrder: true, orderNumber: '20261126-0001', flags: [] });
    expect(c.items).toEqual([{ code: 'TNG-AI-01', quantity: 2 }, { code: 'MZR-SET-5', quantity: 1 }]);
    expect(forwardClaim(c.shop!, c, 'Q1')).toBe('order:20261126-0001');
  });

  it('reads a UTF-8 multipart order from its text/plain part', async () => {
    const c = await classifyFile(mail('order-utf8-multipart.eml'), cfg.shops, '', undefined);
    expect(c).toMatchObject({ isOrder: true, orderNumber: '20261126-0002', messageId: '<20261126110244.0002@cart.craftcart.example>' });
    expect(c.items).toEqual([{ code: 'TNG-AI-01', quantity: 2 }, { code: 'MZR-SET-5', quantity: 1 }]);
  });

  it('does not take a shipping notice for an order', async () => {
    const c = await classifyFile(mail('shipping-notice-iso2022jp.eml'), cfg.shops, 'order@croft-zakka.example.jp', undefined);
    expect([c.shop?.id, c.isOrder, c.items]).toEqual(['croft-zakka', false, []]);
  });

  it('falls back to text/html, and flags an order with no number or items', async () => {
    const t = tempDir();
    const f = join(t.dir, 'h.eml');
    writeFileSync(f, 'From: x@other.example\r\nSubject: =?UTF-8?B?44GU5rOo5paH?=\r\nMessage-ID: <m1@x>\r\n'
      + 'Content-Type: text/html; charset=UTF-8\r\n\r\n<p>no items here</p>\r\n');
    const c = await classifyFile(f, cfg.shops, '', undefined);
    expect(c).toMatchObject({ isOrder: true, flags: ['no_order_number', 'no_items'] });
    expect(forwardClaim(c.shop!, c, 'Q1')).toBe('message-id:<m1@x>');
    writeFileSync(f, 'From: x@other.example\r\nSubject: =?UTF-8?B?44GU5rOo5paH?=\r\nContent-Type: text/html; charset=UTF-8\r\n\r\n'
      + '<table><tr><td>商品コード: A-1</td><td>数量：3 個</td></tr></table>\r\n');
    expect((await classifyFile(f, cfg.shops, '', undefined)).items).toEqual([{ code: 'A-1', quantity: 3 }]);
    t.cleanup();
  });

  it('finds the shop by AUTH user, envelope sender, From or @domain', () => {
    expect(findShop(cfg.shops, 'a@b.example', undefined, 'other-cart')?.id).toBe('other');
    expect(findShop(cfg.shops, 'ORDER@croft-zakka.example.jp', undefined, undefined)?.id).toBe('croft-zakka');
    expect(findShop(cfg.shops, 'bounce@x.example', 'shop@other.example', undefined)?.id).toBe('other');
    expect(findShop(cfg.shops, 'bounce@x.example', 'shop@x.example', undefined)).toBeUndefined();
  });

  it('pairs each item code with the quantity that follows it', () => {
    expect(extractItems('商品コード: A\n数量：2\n商品コード: B\n商品コード: C\n数量: 5', cfg.shops[0].orderMail.item.code,
      cfg.shops[0].orderMail.item.quantity))
      .toEqual([{ code: 'A', quantity: 2 }, { code: 'B', quantity: 1 }, { code: 'C', quantity: 5 }]);
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
