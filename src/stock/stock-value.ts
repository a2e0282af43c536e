// The value rule for a stock number: trim ASCII whitespace and U+3000, full-width digits become
// ASCII, then only ^[0-9]+$ up to 2^31-1 is a stock. "", "+5", "5.0", "-1" are not.
const MAX_STOCK = 2_147_483_647;

export function parseStockValue(raw: string): number | null {
  const trimmed = raw.replace(/^[\t\n\f\r \u3000]+|[\t\n\f\r \u3000]+$/g, '');
  const ascii = trimmed.replace(/[\uFF10-\uFF19]/g, (d) => String.fromCharCode(d.charCodeAt(0) - 0xfee0));
  if (!/^[0-9]+$/.test(ascii)) return null;
  const n = Number(ascii);
  return n <= MAX_STOCK ? n : null;
}
