// Who the client is, behind a reverse proxy: only a peer inside receiver.trustedProxies is believed about
// X-Forwarded-For, and then the rightmost hop that is not itself a trusted proxy is the client (hops to
// its left were written by the client and prove nothing). Used for lockout, logs and adminClients.
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { allowList } from '../../net/address-list.js';

export function clientAddress(trustedProxies: readonly string[]): (req: IncomingMessage) => string {
  const trusted = allowList(trustedProxies);
  return (req) => {
    const peer = req.socket.remoteAddress ?? 'unknown';
    const header = req.headers['x-forwarded-for'];
    if (!trustedProxies.length || header === undefined || !trusted(peer)) return peer;
    let client = peer;
    const hops = (Array.isArray(header) ? header.join(',') : header).split(',');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i].trim();
      if (!isIP(hop)) return client; // garbage: the last hop we trust wrote it, so it is the client we know
      client = hop;
      if (!trusted(hop)) return hop;
    }
    return client; // every hop a trusted proxy: the leftmost one
  };
}
