// The text of an HTML part, for the order rules: one pass over the input, every byte looked at a
// bounded number of times, whatever the HTML (unclosed tags, huge attributes, endless comments). The
// regexes this replaces rescanned the rest of the input from every '<' of an unclosed tag: 120 KB of
// '<br' took 13 s. A tag, comment or script whose end never comes ends the text there.

/** Tags that end a line of text (as a mail client shows them); every other tag is a space. */
const LINE_BREAKS = new Set(['br', '/p', '/div', '/tr', '/li', '/td', '/h1', '/h2', '/h3', '/h4', '/h5', '/h6']);
/** Elements whose content is not text. */
const RAW_TEXT = new Set(['script', 'style']);
const NAMED: Record<string, string> = { nbsp: ' ', lt: '<', gt: '>', quot: '"', amp: '&', apos: "'" };

function decodeEntities(text: string): string {
  // Bounded quantifiers: an '&' starts at most one short attempt.
  return text.replace(/&(?:#(\d{1,7})|#x([0-9a-f]{1,6})|([a-z]{2,6}));/gi, (all, dec?: string, hex?: string, name?: string) => {
    if (name !== undefined) return NAMED[name.toLowerCase()] ?? all;
    const cp = dec !== undefined ? Number(dec) : parseInt(hex!, 16);
    return cp > 0 && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff) ? String.fromCodePoint(cp) : all;
  });
}

/** Tag name with its '/' for an end tag, lower-cased: "br", "/p"; '' when it is no tag name. */
function tagName(html: string, from: number, to: number): string {
  let i = from;
  let name = '';
  if (html[i] === '/') {
    name = '/';
    i++;
  }
  const start = i;
  while (i < to && i - start < 16) {
    const c = html.charCodeAt(i) | 0x20; // ASCII letters lower-cased; digits already have that bit
    if ((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39)) i++;
    else break;
  }
  return name + html.slice(start, i).toLowerCase();
}

export function htmlToText(html: string): string {
  const lower = html.toLowerCase(); // for finding </script> and </style> without a regex
  const out: string[] = [];
  let i = 0;
  while (i < html.length) {
    const lt = html.indexOf('<', i);
    if (lt < 0) {
      out.push(html.slice(i));
      break;
    }
    out.push(html.slice(i, lt));
    if (html.startsWith('<!--', lt)) {
      const end = html.indexOf('-->', lt + 4);
      if (end < 0) break;
      i = end + 3;
      continue;
    }
    const gt = html.indexOf('>', lt + 1);
    if (gt < 0) break; // no '>' anywhere after: the rest is inside one unclosed tag
    const name = tagName(html, lt + 1, gt);
    out.push(LINE_BREAKS.has(name) ? '\n' : ' ');
    i = gt + 1;
    if (RAW_TEXT.has(name)) {
      const close = lower.indexOf(`</${name}`, i);
      if (close < 0) break;
      i = close;
    }
  }
  return decodeEntities(out.join(''));
}
