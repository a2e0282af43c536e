// One charset per request: the Content-Type's, else the shop's setting; "auto" is UTF-8 unless the
// bytes are not valid UTF-8, then Shift_JIS. Shift_JIS means Windows-31J (WHATWG), as carts send it.
import iconv from 'iconv-lite';
import { clip } from '../../security/untrusted-text.js';

export type Charset = 'utf-8' | 'shift_jis' | 'euc-jp';

const LABELS: Record<string, Charset> = {
  'utf-8': 'utf-8',
  utf8: 'utf-8',
  shift_jis: 'shift_jis',
  'shift-jis': 'shift_jis',
  sjis: 'shift_jis',
  cp932: 'shift_jis',
  'windows-31j': 'shift_jis',
  'x-sjis': 'shift_jis',
  ms_kanji: 'shift_jis',
  'euc-jp': 'euc-jp',
  eucjp: 'euc-jp',
  'x-euc-jp': 'euc-jp',
};

export class CharsetError extends Error {}

function charsetFromLabel(label: string): Charset | undefined {
  return LABELS[label.trim().toLowerCase()];
}

const decoders: Record<Charset, TextDecoder> = {
  'utf-8': new TextDecoder('utf-8', { fatal: true }),
  shift_jis: new TextDecoder('shift_jis', { fatal: true }),
  'euc-jp': new TextDecoder('euc-jp', { fatal: true }),
};

function validIn(charset: Charset, values: Buffer[]): boolean {
  try {
    for (const v of values) decoders[charset].decode(v);
    return true;
  } catch {
    return false;
  }
}

/** Picks the request's charset. `declared` is the Content-Type label; `setting` the shop's uploadCharset. */
export function chooseCharset(declared: string | undefined, setting: string, values: Buffer[]): Charset {
  if (declared) {
    const cs = charsetFromLabel(declared);
    if (!cs) throw new CharsetError(`unsupported_charset ${clip(declared)}`);
    return cs;
  }
  if (setting !== 'auto') return charsetFromLabel(setting)!;
  return validIn('utf-8', values) ? 'utf-8' : 'shift_jis';
}

export function decode(value: Buffer, charset: Charset): string {
  try {
    return decoders[charset].decode(value);
  } catch {
    throw new CharsetError(`undecodable_${charset}`);
  }
}

/** Encodes an answer in the request's charset (a product code is echoed as the client wrote it). */
export function encode(text: string, charset: Charset): Buffer {
  if (charset === 'utf-8') return Buffer.from(text, 'utf8');
  return iconv.encode(text, charset === 'shift_jis' ? 'cp932' : 'euc-jp');
}
