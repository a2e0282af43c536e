// A Redis URL fit for messages and `config show`: the password is masked. (Its own module, so the
// delivery thread can report Redis errors without loading the config loader and its parsers.)
export function maskUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//****@');
}
