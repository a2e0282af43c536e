import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseUrlencoded, parseMultipart, contentTypeParams, FormError, type OnField } from '../../src/stock/receive/form.js';
import { chooseCharset, decode, encode, CharsetError } from '../../src/stock/receive/charset.js';
import { readUploadRequest } from '../../src/stock/receive/upload-request.js';
import { parseStockValue } from '../../src/stock/stock-value.js';
import { Lockout } from '../../src/security/lockout.js';
import { FIXTURES } from '../helpers/env.js';

const urlencoded = (body: Buffer) => (onField: OnField) => parseUrlencoded(body, onField);
const fields = (body: Buffer) => {
  const out: [string, string][] = [];
  parseUrlencoded(body, (ns, ne, vs, ve) => {
    out.push([body.toString('latin1', ns, ne), body.toString('utf8', vs, ve)]);
  });
  return out;
};
const fixture = (name: string) => readFileSync(join(FIXTURES, 'uploads', name));

function itemsOf(body: Buffer, declared?: string, setting = 'auto') {
  const copy = Buffer.from(body); // parsing decodes in place
  const req = readUploadRequest(copy, urlencoded(copy), 1000);
  const cs = chooseCharset(
    declared,
    setting,
    req.items!.flatMap((i) => [i.code, i.stock]),
  );
  return { cs, req, items: req.items!.map((i) => [decode(i.code, cs), decode(i.stock, cs)]) };
}

describe('form decoding', () => {
  it('reads the UTF-8 fixture: credentials and items in order', () => {
    const { req, items, cs } = itemsOf(fixture('basic-utf8.form'));
    expect(req.sysId).toBe('zr-croft01');
    expect(req.sysPass).toBe('s3cret-pass');
    expect(cs).toBe('utf-8');
    expect(items).toEqual([
      ['TNG-AI-01', '12'],
      ['MZR-SET-5', '0'],
      ['NOPE-404', '3'],
    ]);
  });

  it('reads the Shift_JIS fixture with Windows-31J mappings, declared or detected', () => {
    for (const declared of [undefined, 'shift_jis', 'cp932', 'windows-31j', 'x-sjis', 'sjis']) {
      const { items, cs } = itemsOf(fixture('shift_jis.form'), declared);
      expect(cs).toBe('shift_jis');
      expect(items).toEqual([
        ['ＴＮＧ－ＡＩ－０２', '5'],
        ['手ぬぐい-赤', '7'],
      ]);
    }
  });

  it('decodes EUC-JP when declared or set for the shop', () => {
    const code = Buffer.from([0xbc, 0xea, 0xa4, 0xcc, 0xa4, 0xb0, 0xa4, 0xa4]); // 手ぬぐい
    const escaped = [...code].map((b) => '%' + b.toString(16).toUpperCase()).join('');
    const body = Buffer.from(`sys_id=a&product[0][product_code]=${escaped}&product[0][stock]=1`);
    expect(itemsOf(body, 'euc-jp').items[0][0]).toBe('手ぬぐい');
    expect(itemsOf(body, undefined, 'euc-jp').items[0][0]).toBe('手ぬぐい');
  });

  it('treats + as a space, decodes escapes to bytes before the charset, refuses broken escapes', () => {
    expect(fields(Buffer.from('a=x+y%2B&b=%E6%89%8B&&c&d=&=e'))).toEqual([
      ['a', 'x y+'],
      ['b', '手'],
      ['c', ''],
      ['d', ''],
      ['', 'e'],
    ]);
    expect(() => fields(Buffer.from('a=%ZZ'))).toThrow(FormError);
    expect(() => fields(Buffer.from('a=%4'))).toThrow(FormError);
  });

  it('refuses bytes that are not in the declared charset', () => {
    expect(() => decode(Buffer.from([0xff, 0xfe]), 'utf-8')).toThrow(CharsetError);
    expect(() => chooseCharset('klingon', 'auto', [])).toThrow(/unsupported_charset/);
  });

  it('reads multipart/form-data with any keys, in the order sent', () => {
    const b = 'XyZ';
    const part = (n: string, v: string) => `--${b}\r\nContent-Disposition: form-data; name="${n}"\r\n\r\n${v}\r\n`;
    const body = Buffer.from(
      part('sys_id', 'zr') +
        part('product[b7][product_code]', 'A-1') +
        part('product[a][product_code]', 'B-2') +
        part('product[b7][stock]', '3') +
        part('product[a][stock]', '4') +
        `--${b}--\r\n`,
    );
    const req = readUploadRequest(body, (onField) => parseMultipart(body, b, onField), 10);
    expect(req.items!.map((i) => [i.code.toString(), i.stock.toString()])).toEqual([
      ['A-1', '3'],
      ['B-2', '4'],
    ]);
    expect(() => parseMultipart(Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="x"\r\n\r\nno end`), b, () => {})).toThrow(
      FormError,
    );
    expect(contentTypeParams('multipart/form-data; boundary="abc"; charset=Shift_JIS')).toEqual({
      type: 'multipart/form-data',
      boundary: 'abc',
      charset: 'shift_jis',
    });
  });

  it('tells no product field from an empty list, and stops counting past maxItems', () => {
    const read = (text: string, max: number) => {
      const body = Buffer.from(text);
      return readUploadRequest(body, urlencoded(body), max);
    };
    expect(read('sys_id=a&sys_pass=b', 10).items).toBeNull();
    const many = Array.from({ length: 5 }, (_, i) => `product[${i}][product_code]=C${i}&product[${i}][stock]=1`).join('&');
    expect(read(many, 4).tooMany).toBe(true);
    expect(read(many, 5).items).toHaveLength(5);
    expect(read(`product[0][product_code]=A&${'product[0][stock]=1&'.repeat(8)}`, 2).tooMany).toBe(true); // past 4 fields per item allowed
  });

  it('encodes answers in the request charset', () => {
    expect(encode('ＴＮＧ－', 'shift_jis')).toEqual(Buffer.from([0x82, 0x73, 0x82, 0x6d, 0x82, 0x66, 0x81, 0x7c]));
  });
});

describe('stock value rule', () => {
  it.each([
    ['12', 12],
    ['0', 0],
    ['１２', 12],
    ['\u3000 7 \u3000', 7],
    ['2147483647', 2147483647],
    ['007', 7],
    ['', null],
    ['+5', null],
    ['5.0', null],
    ['-1', null],
    ['2147483648', null],
    ['1e3', null],
    ['abc', null],
    ['1 2', null],
  ])('%j → %j', (raw, expected) => {
    expect(parseStockValue(raw as string)).toBe(expected);
  });
});

describe('lockout', () => {
  it('locks a pair after N failures within the window, for the duration; a success resets', () => {
    let now = 0;
    const l = new Lockout({ failures: 3, windowMs: 1000, durationMs: 5000 }, () => now);
    l.fail('1.2.3.4', 'zr');
    l.fail('1.2.3.4', 'zr');
    l.succeed('1.2.3.4', 'zr');
    l.fail('1.2.3.4', 'zr');
    l.fail('1.2.3.4', 'zr');
    expect(l.isLocked('1.2.3.4', 'zr')).toBe(false);
    now = 2000; // the first two fell out of the window
    l.fail('1.2.3.4', 'zr');
    l.fail('1.2.3.4', 'zr');
    expect(l.isLocked('1.2.3.4', 'zr')).toBe(false);
    expect(l.fail('1.2.3.4', 'zr')).toBe(true);
    expect(l.isLocked('1.2.3.4', 'zr')).toBe(true);
    expect(l.isLocked('1.2.3.5', 'zr')).toBe(false);
    now = 7001;
    expect(l.isLocked('1.2.3.4', 'zr')).toBe(false);
  });
});
