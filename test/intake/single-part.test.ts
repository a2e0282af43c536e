// The synchronous reader of single-part mail must give what mailparser gives, field for field: every
// message here goes through both, and those it takes must come out equal.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import iconv from 'iconv-lite';
import { parseSinglePart } from '../../src/intake/classify/single-part.js';
import { parseWithMailparser } from '../../src/intake/classify/classify.js';
import { FIXTURES } from '../helpers/env.js';

const fixture = (name: string) => readFileSync(join(FIXTURES, 'mail', name));
const split = (raw: Buffer) => {
  const i = raw.indexOf('\r\n\r\n');
  return { header: raw.subarray(0, i + 2), body: raw.subarray(i + 4) };
};
const iso2022 = split(fixture('order-iso2022jp.eml'));
const iso2022Subject = /^Subject:.*(\r\n[ \t].*)*/m.exec(iso2022.header.toString('latin1'))![0];

const TEXT =
  'ご注文ありがとうございます。\r\n注文番号：A-1001\r\n商品コード：TNG-AI-02 数量：2\r\n手ぬぐい－赤 ～ ① ﾊﾝｶｸ\r\n.dot line\r\n\r\n';
const b64 = (b: Buffer) => b.toString('base64').replace(/.{76}/g, '$&\r\n');
const qp = (b: Buffer) =>
  [...b]
    .map((c) =>
      c === 0x0d || c === 0x0a || (c >= 33 && c <= 126 && c !== 61)
        ? String.fromCharCode(c)
        : `=${c.toString(16).toUpperCase().padStart(2, '0')}`,
    )
    .join('')
    .replace(/[^\r\n]{70}(?=[^\r\n])/g, '$&=\r\n');

const HEADERS = [
  'From: order@croft-zakka.example.jp\r\nSubject: plain subject\r\nMessage-ID: <a@b>\r\n',
  `From: =?UTF-8?B?${Buffer.from('クロフト雑貨店').toString('base64')}?= <order@croft-zakka.example.jp>\r\n${iso2022Subject}\r\n` +
    'Message-ID: no-brackets@example\r\n',
  'From: "Shop, Inc." <a@b.example>, second@c.example\r\nSubject: =?UTF-8?Q?=E3=81=94=E6=B3=A8=E6=96=87?=\r\n' +
    ' =?UTF-8?Q?=E3=81=82=E3=82=8A=E3=81=8C=E3=81=A8=E3=81=86?=\r\n',
  'From: Undisclosed:;\r\nFrom: later@example.net\r\n' +
    `Subject: =?Shift_JIS?B?${iconv.encode('注文', 'shift_jis').toString('base64')}?= raw ${'注文'}\r\n`,
  'Subject: no from, no id\r\nX-Other: x\r\n\tfolded\r\n',
];

const bodies: [string, Buffer][] = [
  ['Content-Type: text/plain; charset=ISO-2022-JP\r\nContent-Transfer-Encoding: 7bit\r\n', iso2022.body],
  ['Content-Type: text/plain; charset=ISO-2022-JP\r\nContent-Transfer-Encoding: base64\r\n', Buffer.from(b64(iso2022.body))],
  ['Content-Type: text/plain; charset=Shift_JIS\r\nContent-Transfer-Encoding: 8bit\r\n', iconv.encode(TEXT, 'shift_jis')],
  ['Content-Type: text/plain; charset="windows-31j"\r\n', iconv.encode(TEXT, 'cp932')],
  [
    'Content-Type: text/plain; charset=Shift_JIS\r\nContent-Transfer-Encoding: quoted-printable\r\n',
    Buffer.from(qp(iconv.encode(TEXT, 'shift_jis'))),
  ],
  ['Content-Type: text/plain; charset=EUC-JP\r\nContent-Transfer-Encoding: 8bit\r\n', iconv.encode(TEXT, 'euc-jp')],
  ['Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n', Buffer.from(TEXT)],
  ['Content-Type: TEXT/PLAIN; CHARSET=UTF-8\r\nContent-Transfer-Encoding: BASE64\r\n', Buffer.from(b64(Buffer.from(TEXT)))],
  [
    'Content-Type: text/plain; charset=utf-8 (comment)\r\nContent-Transfer-Encoding: base64 (comment)\r\n',
    Buffer.from(b64(Buffer.from(TEXT))),
  ],
  ['Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n', Buffer.from(qp(Buffer.from(TEXT)))],
  ['Content-Type: text/plain; charset=iso-8859-1\r\n', iconv.encode('Grüße, Bestellung Nr. 42\r\n', 'latin1')],
  ['Content-Type: text/plain; charset=x-unknown-charset\r\n', Buffer.from(TEXT)],
  ['Content-Type: text/plain; charset=us-ascii\r\n', Buffer.from('Order 42\r\nitem: A-1 qty 2\r\n')],
  ['', Buffer.from('no content type at all\r\nOrder 42\r\n')],
  ['MIME-Version: 1.0\r\nContent-Type: text/plain\r\n', Buffer.from(TEXT)],
  ['Content-Type: text/html; charset=UTF-8\r\n', Buffer.from('<p>注文番号：A-1001</p><br>商品コード：TNG-AI-02 数量：2')],
  ['Content-Type: text/plain; charset=UTF-8\r\n', Buffer.alloc(0)],
  ['Content-Type: text/html; charset=UTF-8\r\n', Buffer.alloc(0)],
  ['Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n', Buffer.from(b64(Buffer.from(TEXT)).slice(0, -3))],
  // cut short
];

const corpus: [string, Buffer][] = [];
HEADERS.forEach((h, i) =>
  bodies.forEach(([mime, body], j) => {
    corpus.push([
      `headers ${i}, body ${j} (CRLF)`,
      Buffer.concat([Buffer.from(`Received: from x by y; Fri, 27 Nov 2026 03:00:00 +0000\r\n${h}${mime}\r\n`), body]),
    ]);
    const lf = (b: Buffer) => Buffer.from(b.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
    corpus.push([`headers ${i}, body ${j} (LF)`, lf(Buffer.concat([Buffer.from(`${h}${mime}\r\n`), body]))]);
  }),
);

describe('single-part reader', () => {
  it('gives what mailparser gives for the single-part fixtures', async () => {
    for (const name of ['order-iso2022jp.eml', 'shipping-notice-iso2022jp.eml']) {
      const raw = fixture(name);
      const fast = parseSinglePart(raw);
      expect(fast, name).not.toBeNull();
      expect(fast, name).toEqual(await parseWithMailparser(raw));
    }
    expect(parseSinglePart(fixture('order-iso2022jp.eml'))!.text).toContain('TNG-AI-01');
  });

  it(`gives what mailparser gives for ${HEADERS.length * bodies.length * 2} variants of headers, charsets and encodings`, async () => {
    for (const [name, raw] of corpus) {
      const fast = parseSinglePart(raw);
      expect(fast, name).not.toBeNull();
      expect(fast, name).toEqual(await parseWithMailparser(raw));
    }
  });

  it('leaves to mailparser what it does not read itself', () => {
    const others = [
      fixture('order-utf8-multipart.eml'),
      Buffer.from('Subject: a\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=a.txt\r\n\r\nhello\r\n'),
      Buffer.from('Subject: a\r\nContent-Disposition: inline\r\n\r\nhello\r\n'),
      Buffer.from('Subject: a\r\nContent-Type: application/pdf\r\n\r\n%PDF\r\n'),
      Buffer.from('Subject: a\r\nContent-Type: text/plain; format=flowed\r\n\r\nhello \r\nworld\r\n'),
      Buffer.from('Subject: a\r\nContent-Transfer-Encoding: base64\r\n\r\nQQ==\r\nQQ==\r\n'),
      Buffer.from('Subject: only headers, no blank line\r\n'),
      Buffer.from('From someone@example Fri Nov 27 2026\r\nSubject: mbox\r\n\r\nhello\r\n'),
    ];
    for (const raw of others) expect(parseSinglePart(raw), raw.toString('latin1', 0, 60)).toBeNull();
  });
});
