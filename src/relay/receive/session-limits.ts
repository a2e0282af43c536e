// Limits on sessions that smtp-server has no option for, so that outsiders cannot starve the cart:
// - connection slots: at most maxClientsPerAddress sessions per outside address (IPv6: per /64), and outsiders
//   together never take the last fifth of maxClients (kept for allowedClients, which, as Postfix's
//   $mynetworks, have no per-address limit);
// - junk commands: a session that sends junkCommandLimit commands without passing a message (NOOP,
//   RSET, HELO, VRFY, refused MAIL...) gets 421 and is closed, like Postfix's smtpd_junk_command_limit;
// - session time: a command arriving after maxSessionTime gets 421 and the session is closed.
// smtp-server tells about each command only through its logger (option `logger`, a debug entry
// { tnx: 'command', cid, command } per command): that is the hook used. If a smtp-server version
// stops sending them, the junk and time limits are off and a warning says so (socketTimeout still holds).
import type { SMTPServer } from 'smtp-server';
import { smtpError, type ErrorCode } from '../../errors/codes.js';
import type { Logger } from '../../observe/logger.js';
import { clientKey } from '../../net/address-list.js';

export interface SessionLimitOptions {
  maxClients: number;
  maxClientsPerAddress: number;
  junkCommandLimit: number;
  maxSessionMs: number;
}

/** Commands that are part of passing a message: not junk for a session that may relay. */
const TRANSACTION = new Set(['MAIL', 'RCPT', 'DATA']);

interface Tracked {
  address: string;
  outsider: boolean;
  mayRelay: boolean;
  junk: number;
  started: number;
  commands: number;
}

export class SessionLimits {
  private readonly sessions = new Map<string, Tracked>();
  private readonly perAddress = new Map<string, number>();
  private outsiders = 0;
  private readonly outsiderSlots: number;
  private warned = false;
  private server?: SMTPServer;

  constructor(
    private o: SessionLimitOptions,
    private readonly trusted: (address: string) => boolean,
    private readonly log: Logger,
  ) {
    this.outsiderSlots = Math.max(1, o.maxClients - Math.max(1, Math.floor(o.maxClients / 5)));
  }

  /** smtp-server's `logger` option: only its per-command entries are used; the rest is dropped. */
  readonly smtpLogger = {
    trace() {},
    info() {},
    warn() {},
    error() {},
    fatal() {},
    debug: (entry: { tnx?: string; cid?: string; command?: string } | undefined) => {
      if (entry?.tnx === 'command' && entry.cid) this.command(entry.cid, String(entry.command ?? '').toUpperCase());
    },
  };

  /** After a reload: per-address, junk and time limits for the next checks (maxClients, sized at start, stays). */
  update(o: SessionLimitOptions): void {
    this.o = { ...o, maxClients: this.o.maxClients };
  }

  attach(server: SMTPServer): void {
    this.server = server;
  }

  /** At onConnect: the refusal (421) for a session that may not have a slot, or null once it holds one. */
  admit(id: string, remoteAddress: string): Error | null {
    const address = clientKey(remoteAddress); // an IPv6 client per /64
    const outsider = !this.trusted(remoteAddress);
    const total = this.sessions.size;
    if (total >= this.o.maxClients || (outsider && this.outsiders >= this.outsiderSlots)) {
      return smtpError('RELAY_BUSY', 'Too many connected clients, try again in a moment');
    }
    const mine = this.perAddress.get(address) ?? 0;
    if (outsider && mine >= this.o.maxClientsPerAddress) {
      return smtpError('RELAY_TOO_MANY_CONNECTIONS', `Too many connections from ${address}`);
    }
    this.sessions.set(id, { address, outsider, mayRelay: !outsider, junk: 0, started: Date.now(), commands: 0 });
    if (outsider) {
      this.outsiders++;
      this.perAddress.set(address, mine + 1);
    }
    return null;
  }

  /** At onClose: frees the slot (nothing for a session that never got one). */
  release(id: string): void {
    const s = this.sessions.get(id);
    if (!s) return;
    this.sessions.delete(id);
    if (!s.outsider) return;
    this.outsiders--;
    const left = (this.perAddress.get(s.address) ?? 1) - 1;
    if (left > 0) this.perAddress.set(s.address, left);
    else this.perAddress.delete(s.address);
  }

  /** After AUTH: MAIL/RCPT/DATA are real work now. */
  authenticated(id: string): void {
    const s = this.sessions.get(id);
    if (s) s.mayRelay = true;
  }

  /** At MAIL FROM: warns once if smtp-server never reported this session's commands (the limits would be off). */
  checkReported(id: string): void {
    const s = this.sessions.get(id);
    if (!s || s.commands > 0 || this.warned) return;
    this.warned = true;
    this.log.warn('smtp-server no longer reports commands to its logger: the junk-command and session-time limits are off');
  }

  /** A message passed (accepted or refused at the end of DATA): the session is doing real work. */
  messageDone(id: string): void {
    const s = this.sessions.get(id);
    if (s) s.junk = 0;
  }

  private command(id: string, name: string): void {
    const s = this.sessions.get(id);
    if (!s) return;
    s.commands++;
    if (!(s.mayRelay && TRANSACTION.has(name)) && name !== 'QUIT') s.junk++;
    if (s.junk > this.o.junkCommandLimit) this.end(id, 'RELAY_JUNK_COMMANDS', 'Too many commands without a message');
    else if (Date.now() - s.started > this.o.maxSessionMs) this.end(id, 'RELAY_SESSION_TOO_LONG', 'Session too long; reconnect to go on');
  }

  /** 421 and close: smtp-server's send() closes the connection after a 421 itself. */
  private end(id: string, code: ErrorCode, text: string): void {
    const s = this.sessions.get(id);
    for (const conn of this.server?.connections ?? []) {
      if (conn.id !== id) continue;
      const err = smtpError(code, text);
      this.log.warn({ client: s?.address, code }, `SMTP session closed: ${text}`);
      conn.send(err.responseCode, err.message);
      return;
    }
  }
}
