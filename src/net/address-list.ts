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
