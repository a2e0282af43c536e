// Which clients may use XFORWARD (the local Postfix of the content-filter recipe).
import { isIP } from 'node:net';

/**
 * smtp-server's useXForward takes exact addresses, not ranges: the list when every CIDR is one host
 * (the library then refuses XFORWARD from anyone else, and does not offer it), else true (our MAIL
 * hook refuses a session that used XFORWARD from outside the ranges); false when none are trusted.
 */
export function xforwardOption(cidrs: readonly string[]): boolean | string[] {
  if (!cidrs.length) return false;
  const hosts = cidrs.map((c) => {
    const [addr, bits] = c.split('/');
    return bits === undefined || Number(bits) === (isIP(addr) === 6 ? 128 : 32) ? addr : undefined;
  });
  return hosts.every((h) => h !== undefined) ? (hosts as string[]) : true;
}
