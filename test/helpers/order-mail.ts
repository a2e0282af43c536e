// A small order mail of the test shop's template (UTF-8): order subject and number, one item.
import { SHOP } from './env.js';

const b64 = (text: string) => Buffer.from(text).toString('base64');

export function orderMail(order: string, from = SHOP.senders[0], messageId = `<${order}.${Math.random()}@cart.example>`): string {
  return [
    `From: ${from}`,
    'To: customer@example.net',
    `Subject: =?UTF-8?B?${b64(`ご注文ありがとうございます（注文番号：${order}）`)}?=`,
    `Message-ID: ${messageId}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=UTF-8',
    'Content-Transfer-Encoding: base64',
    '',
    b64(`注文番号：${order}\n商品コード: TNG-AI-01\n数量: 1\n`),
    '',
  ].join('\r\n');
}
