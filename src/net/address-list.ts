// Address matching by CIDR list, shared by the relay (who may send), the receiver (who may read
// /metrics, who is zaiko Robot, which proxies to trust) and classification (a shop's clients).
// An IPv4-mapped IPv6 peer (::ffff:127.0.0.1) is matched against the IPv4 ranges.
import { BlockList, isIP } from 'node:net';

const REMEMBERED_ADDRESSES = 1024;

export function allowList(cidrs: readonly string[]): (address: string) => boolean {
  const list = new BlockList();
  for (const c of cidrs) {
    const [addr, bits] = c.split('/');
    const family = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr, family);
    else list.addSubnet(addr, Number(bits), family);
  }
  // Asked three times per session (greeting, MAIL, RCPT) by the same few clients: remember answers.
  const seen = new Map<string, boolean>();
  return (address: string) => {
    let allowed = seen.get(address);
    if (allowed !== undefined) return allowed;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    const ip = mapped ? mapped[1] : address;
    const family = isIP(ip);
    allowed = family !== 0 && list.check(ip, family === 6 ? 'ipv6' : 'ipv4');
    if (seen.size >= REMEMBERED_ADDRESSES) seen.clear();
    seen.set(address, allowed);
    return allowed;
  };
}

/**
 * What one client is, for per-client limits: an IPv4 address (an IPv4-mapped IPv6 peer as its IPv4
 * address), or an IPv6 address's /64 (one host or site usually holds a whole /64, so counting per
 * address would give it 2^64 of them).
 */
export function clientKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1];
  const ip = address.split('%')[0].toLowerCase();
  if (isIP(ip) !== 6) return address;
  // An embedded IPv4 tail counts as two groups; only the first four groups matter.
  const groups = (part: string) => (part ? part.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g])) : []);
  const [head, tail] = ip.split('::');
  const h = groups(head);
  const full = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - groups(tail).length).fill('0'), ...groups(tail)];
  return `${full
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}
