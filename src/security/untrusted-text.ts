// Text that an outsider chose (a sys_id, a product code, a form key), made safe to show: at most a
// bounded prefix, and never a byte that could end a line or fake another entry.

/** C0 controls, DEL, C1 controls, the Unicode line separators, and "%" itself (so every "%XX" is an escape). */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029%]/g;

const hex = (bytes: ArrayLike<number>) => Array.from(bytes, (b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
const utf8 = (c: string) => Buffer.from(c, 'utf8');

/**
 * Each unsafe character as "%XX" (upper-case hex of its bytes in the answer's charset, UTF-8 unless
 * `toBytes` says otherwise): one item is always one line.
 */
export function escapeLineText(text: string, toBytes: (c: string) => ArrayLike<number> = utf8): string {
  return text.replace(UNSAFE, (c) => hex(toBytes(c)));
}

/** A `bad_request(…)` text: ASCII only (the answer's tokens are), every other byte as "%XX" (latin1 below U+0100). */
export function asciiDetail(text: string): string {
  return text.replace(/[^\x20-\x24\x26-\x7e]/g, (c) => hex(c.charCodeAt(0) < 0x100 ? [c.charCodeAt(0)] : utf8(c)));
}

/** At most `max` characters of `text`, "..." when cut (for a client's text inside a message of ours). */
export function clip(text: string, max = 64): string {
  return text.length <= max ? text : `${text.slice(0, max)}...`;
}

/** For logs: the first `max` characters, escaped, and how long the whole was when it was longer. */
export function preview(text: string, max = 64): string {
  if (text.length <= max) return escapeLineText(text);
  return `${escapeLineText(text.slice(0, max))}…(${text.length} chars)`;
}
