// A reserved share of the receiver for zaiko Robot's own hosts (shops[].zaikoRobot.clients): other
// addresses together never hold the last fifth of receiver.maxConnections, nor the last share of
// receiver.maxInflightBytes (a quarter, or one largest upload if more, at most half), so many addresses
// together (each within its per-address limit) cannot fill what zaiko Robot needs to upload. Without
// any zaikoRobot.clients configured nothing is held back. The list follows a reload.
import type { Server } from 'node:http';
import type { Config } from '../../config/schema.js';
import type { ConfigHolder } from '../../config/holder.js';
import type { Logger } from '../../observe/logger.js';
import { allowList } from '../../net/address-list.js';

interface Reserve {
  /** Whether this address is one of zaiko Robot's hosts; false for everyone while none is configured. */
  isZaikoRobot(address: string): boolean;
  /** Whether any zaiko Robot host is configured (else nothing is held back). */
  active(): boolean;
}

export function zaikoRobotReserve(holder: ConfigHolder): Reserve {
  const lists = new WeakMap<Config, { cidrs: number; match: (a: string) => boolean }>();
  const current = () => {
    const cfg = holder.get();
    let list = lists.get(cfg);
    if (!list) {
      const cidrs = cfg.shops.flatMap((s) => s.zaikoRobot.clients);
      list = { cidrs: cidrs.length, match: allowList(cidrs) };
      lists.set(cfg, list);
    }
    return list;
  };
  return { isZaikoRobot: (a) => current().match(a), active: () => current().cidrs > 0 };
}

/** The connections kept for zaiko Robot: a fifth of maxConnections, at least one. */
const reservedConnections = (maxConnections: number) => Math.max(1, Math.floor(maxConnections / 5));

/** The in-flight bytes kept for zaiko Robot: a quarter, or one largest upload if more, but at most half. */
export const reservedBytes = (maxInflightBytes: number, maxBytes: number) =>
  Math.min(Math.max(maxBytes, Math.floor(maxInflightBytes / 4)), Math.floor(maxInflightBytes / 2));

/** Closes a connection from another address when others already hold all but the reserved connections. */
export function reserveConnections(server: Server, reserve: Reserve, log: Logger): void {
  let others = 0;
  let refused = 0;
  server.on('connection', (socket) => {
    if (!reserve.active() || reserve.isZaikoRobot(socket.remoteAddress ?? '')) return;
    if (others >= server.maxConnections - reservedConnections(server.maxConnections)) {
      socket.destroy();
      if (refused++ === 0) {
        // one line a minute at most
        setTimeout(() => {
          log.warn({ refused }, "connections refused: the rest of receiver.maxConnections is kept for zaiko Robot's hosts");
          refused = 0;
        }, 60_000).unref();
      }
      return;
    }
    others++;
    socket.once('close', () => others--);
  });
}
