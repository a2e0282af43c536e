// A Redis URL fit for messages and `config show`: the user and password are masked. (Its own module,
// so the delivery thread can report Redis errors without loading the config loader and its parsers.)
// The password may hold '@', '/', '?' or '#' unencoded: everything up to the last '@' is masked, so no
// part of it can show (an '@' later in a path or query only masks more).
export function maskUrl(url: string): string {
  const start = url.indexOf('//');
  const at = url.lastIndexOf('@');
  if (start < 0 || at < start) return url;
  return `${url.slice(0, start + 2)}****${url.slice(at)}`;
}
