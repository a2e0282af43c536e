// Text that an outsider chose (a sys_id, a product code, a form key), made safe to show: at most a
// bounded prefix, and never a byte that could end a line or fake another entry.

/** C0 controls, DEL, C1 controls, the Unicode line separators, and "%" itself (so every "%XX" is an escape). */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029%]/g;

/** Each unsafe character as "%XX" (upper-case hex of its UTF-8 bytes): one item is always one line. */
export function escapeLineText(text: string): string {
  return text.replace(UNSAFE, (c) => encodeURIComponent(c));
}

/** For logs: the first `max` characters, escaped, and how long the whole was when it was longer. */
export function preview(text: string, max = 64): string {
  if (text.length <= max) return escapeLineText(text);
  return `${escapeLineText(text.slice(0, max))}…(${text.length} chars)`;
}
