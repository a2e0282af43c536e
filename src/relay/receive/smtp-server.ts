// The SMTP listener: smtp-server's hooks decide who may relay and what is accepted; this is the one
// place where its callbacks become promises. Replies come from the error table (errors/codes.ts).
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { createRequire } from 'node:module';
import type * as SmtpServerLib from 'smtp-server';
import type { SMTPServerOptions, SMTPServerSession, SMTPServerAuthentication } from 'smtp-server';
import type { Config } from '../../config/schema.js';
import { ConfigHolder } from '../../config/holder.js';
import { refuseRenegotiation, relayTlsPolicy } from './tls-policy.js';
import type { Logger } from '../../observe/logger.js';
import { costliestHash, verifyPassword } from '../../config/password.js';
import { preview } from '../../security/untrusted-text.js';
import { smtpError, BridgeError } from '../../errors/codes.js';
import { xforwardOption } from './client-policy.js';
import { allowList } from '../../net/address-list.js';
import { installGreetingPatch } from './greeting-delay.js';
import { SessionLimits } from './session-limits.js';
import { Lockout } from '../../security/lockout.js';
import type { Acceptor } from '../../intake/accept.js';
import { TooBigError, LoopError } from '../../intake/accept.js';
import type { Metrics, REJECT_REASONS } from '../../observe/metrics.js';

/** smtp-server's CommonJS build: its ESM one imports node:http (through nodemailer), on Node 24 that loads undici (net/node-http.ts). */
const { SMTPServer } = createRequire(import.meta.url)('smtp-server') as typeof SmtpServerLib;
type SMTPServer = SmtpServerLib.SMTPServer;

const CLOSE_TIMEOUT_MS = 10_000; // in-flight DATA may finish for this long at shutdown
/** Password guessing: this many failed AUTHs from one address within the window lock it out. */
const AUTH_LOCKOUT = { failures: 10, windowMs: 15 * 60_000, durationMs: 15 * 60_000 };

type Cb = (err?: Error | null, value?: any) => void;
function hook<T>(work: () => Promise<T> | T, cb: Cb): void {
  Promise.resolve()
    .then(work)
    .then(
      (v) => cb(null, v),
      (err) => cb(err),
    );
}

export interface RelayListener {
  server: SMTPServer;
  shutdown(): Promise<void>;
}

/** What one session decides by: derived once per config, read at the session's connect. */
interface Policy {
  cfg: Config;
  trusted: (address: string) => boolean;
  users: Map<string, string>;
  imitatedHash: string | undefined;
  xforwarders: (address: string) => boolean;
  disabledCommands: string[];
  beforeTls: string[];
}

function policyOf(cfg: Config): Policy {
  const r = cfg.relay;
  const users = new Map(r.users.map((u) => [u.name, u.password]));
  // No password in clear text: until STARTTLS (and without relay.tls, for the whole session) AUTH is
  // neither offered nor accepted, unless allowInsecureAuth. smtp-server alone would let AUTH through on
  // a plain session when STARTTLS is off; session.disabledCommands replaces the list per session.
  const disabledCommands = [...(r.tls ? [] : ['STARTTLS']), ...(users.size ? [] : ['AUTH'])];
  return {
    cfg,
    trusted: allowList(r.allowedClients),
    users,
    imitatedHash: costliestHash(r.users.map((u) => u.password)), // what an unknown user is checked against
    xforwarders: allowList(r.xforwardClients),
    disabledCommands,
    beforeTls: r.allowInsecureAuth ? disabledCommands : [...new Set([...disabledCommands, 'AUTH'])],
  };
}

/** The TLS options of relay.tls: key and certificate files as they are now, and the cipher policy. */
function tlsOptions(r: Config['relay']) {
  return r.tls ? { key: readFileSync(r.tls.key), cert: readFileSync(r.tls.cert), ...relayTlsPolicy(r.tlsCiphers) } : {};
}

/** For a reload: relay.tls must be readable and usable (key matching the certificate) before it is swapped in. */
export function tlsProblems(cfg: Config): string[] {
  try {
    createSecureContext(tlsOptions(cfg.relay));
    return [];
  } catch (err) {
    return [`relay.tls: ${(err as Error).message}`];
  }
}

/**
 * SIGTERM: new connections get 421, DATA in flight may finish for CLOSE_TIMEOUT_MS, then the listener closes.
 * With a ConfigHolder, a session takes the config of its connect for its whole life; a reload swaps the
 * TLS certificate for the next STARTTLS and the limits for the next sessions.
 */
export function createSmtpServer(config: Config | ConfigHolder, acceptor: Acceptor, log: Logger, metrics?: Metrics): RelayListener {
  const holder = ConfigHolder.of(config);
  let closing = false;
  let inFlight = 0;
  const reject = (reason: (typeof REJECT_REASONS)[number], err: Error) => {
    metrics?.messagesRejected.inc({ reason });
    return err;
  };
  const r = holder.get().relay; // listener-wide: what RESTART_KEYS keeps for the process's life
  const policies = new WeakMap<Config, Policy>();
  const current = () => {
    const cfg = holder.get();
    let p = policies.get(cfg);
    if (!p) policies.set(cfg, (p = policyOf(cfg)));
    return p;
  };
  const sessions = new Map<string, Policy>();
  const policy = (s: SMTPServerSession) => sessions.get(s.id) ?? current();
  const lockout = new Lockout(AUTH_LOCKOUT);
  // XFORWARD ADDR= replaces remoteAddress with the original client; who may relay is still decided by
  // the peer that connected (the local Postfix), which smtp-server keeps as ADDR:DEFAULT.
  const peerOf = (s: SMTPServerSession) => (s.xForward?.get('ADDR:DEFAULT') as string | undefined) ?? s.remoteAddress;
  const mayRelay = (s: SMTPServerSession) => policy(s).trusted(peerOf(s)) || !!s.user;
  const limitsOf = (relay: Config['relay']) => ({
    maxClients: relay.maxClients,
    maxClientsPerAddress: relay.maxClientsPerAddress,
    junkCommandLimit: relay.junkCommandLimit,
    maxSessionMs: relay.maxSessionTime,
  });
  const limits = new SessionLimits(limitsOf(r), (address) => current().trusted(address), log);
  if (!installGreetingPatch()) log.warn('smtp-server changed: trusted clients get the 100 ms early-talker delay too');
  const options: SMTPServerOptions & { greetAtOnce: (address: string) => boolean } = {
    greetAtOnce: (address) => current().trusted(address),
    name: r.hostname,
    banner: 'zaiko-bridge',
    size: r.maxMessageBytes,
    authOptional: true,
    authMethods: ['PLAIN', 'LOGIN'],
    allowInsecureAuth: r.allowInsecureAuth,
    hideSTARTTLS: !r.tls,
    disabledCommands: current().disabledCommands,
    hideENHANCEDSTATUSCODES: true, // our replies carry their own enhanced codes (errors/codes.ts)
    hideDSN: true,
    // Sockets, including those being refused: the sessions themselves are counted by SessionLimits.
    maxClients: r.maxClients * 2,
    socketTimeout: r.socketTimeout,
    closeTimeout: 1000, // idle sessions at shutdown: DATA in flight was already waited for (shutdown())
    disableReverseLookup: true,
    useXForward: xforwardOption(r.xforwardClients),
    logger: limits.smtpLogger, // its per-command entries drive the junk-command and session-time limits
    ...tlsOptions(r),

    onConnect(session, cb) {
      if (closing) return cb(smtpError('RELAY_SHUTTING_DOWN', `${r.hostname} shutting down; try again later`));
      const p = current();
      sessions.set(session.id, p);
      if (!session.secure) session.disabledCommands = p.beforeTls;
      cb(limits.admit(session.id, session.remoteAddress));
    },
    onClose(session) {
      sessions.delete(session.id);
      limits.release(session.id);
    },
    onSecure(socket, session, cb) {
      refuseRenegotiation(socket);
      session.disabledCommands = policy(session).disabledCommands;
      cb();
    },
    onAuth(auth: SMTPServerAuthentication, session: SMTPServerSession, cb: Cb) {
      hook(async () => {
        // Never reached while smtp-server honours session.disabledCommands; kept in case it stops to.
        const p = policy(session);
        if (!session.secure && !r.allowInsecureAuth)
          throw smtpError('RELAY_ENCRYPTION_REQUIRED', 'Encryption required for requested authentication mechanism');
        // The peer that connected, not an XFORWARD-named client: with a range in xforwardClients smtp-server
        // takes XFORWARD from anyone, and a new ADDR before each guess would start the count afresh.
        const peer = peerOf(session);
        if (lockout.isLocked(peer, '')) {
          throw reject('auth_failed', smtpError('RELAY_AUTH_LOCKED', 'Too many failed authentications; try again later'));
        }
        const configured = p.users.get(auth.username ?? '');
        // Counted before the (async) check so parallel sessions cannot outrun the lockout; an unknown user costs a scrypt run too.
        const locked = lockout.fail(peer, '');
        if (!(await verifyPassword(auth.password ?? '', configured, p.imitatedHash))) {
          log.warn({ client: peer, user: preview(auth.username ?? ''), locked }, 'SMTP AUTH failed');
          throw reject('auth_failed', smtpError('RELAY_AUTH_FAILED', 'Authentication credentials invalid'));
        }
        lockout.succeed(peer, '');
        limits.authenticated(session.id);
        return { user: auth.username };
      }, cb);
    },
    onMailFrom(address, session, cb) {
      limits.checkReported(session.id);
      hook(() => {
        if (session.xForward?.size && !policy(session).xforwarders(peerOf(session))) {
          throw reject('relay_denied', smtpError('RELAY_ACCESS_DENIED', 'XFORWARD is not allowed from this client'));
        }
        if (!mayRelay(session)) throw reject('relay_denied', smtpError('RELAY_ACCESS_DENIED', 'Relay access denied'));
        void address;
      }, cb);
    },
    onRcptTo(address, session, cb) {
      hook(() => {
        if (!mayRelay(session)) throw reject('relay_denied', smtpError('RELAY_ACCESS_DENIED', 'Relay access denied'));
        if (session.envelope.rcptTo.length >= policy(session).cfg.relay.maxRecipients)
          throw reject('too_many_recipients', smtpError('RELAY_TOO_MANY_RECIPIENTS', 'Too many recipients'));
        void address;
      }, cb);
    },
    onData(stream, session, cb) {
      inFlight++;
      const { cfg } = policy(session);
      const maxBytes = cfg.relay.maxMessageBytes;
      hook(async () => {
        try {
          const qid = await acceptor.accept(
            stream,
            {
              mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              rcptTo: session.envelope.rcptTo.map((a) => a.address),
            },
            {
              clientAddress: session.remoteAddress,
              clientHostname: session.clientHostname,
              helo: session.hostNameAppearsAs,
              authUser: typeof session.user === 'string' ? session.user : undefined,
              secure: session.secure,
              authenticated: !!session.user,
            },
            maxBytes,
            cfg,
          );
          return `2.0.0 Ok: queued as ${qid}`;
        } catch (err) {
          if (err instanceof TooBigError)
            throw reject('too_big', smtpError('RELAY_TOO_BIG', `Message size exceeds fixed limit of ${maxBytes} bytes`));
          if (err instanceof LoopError) throw reject('loop', smtpError('RELAY_LOOP', 'Too many Received: headers: mail loop'));
          if (err instanceof BridgeError)
            throw reject('not_stored', smtpError('RELAY_NOT_STORED', 'Local error in processing; try again later'));
          log.error({ err: (err as Error).message }, 'unexpected error during DATA');
          throw reject('not_stored', smtpError('RELAY_NOT_STORED', 'Local error in processing; try again later'));
        } finally {
          inFlight--;
          limits.messageDone(session.id);
        }
      }, cb);
    },
  };
  const server = new SMTPServer(options);
  limits.attach(server);
  holder.onChange((next) => {
    limits.update(limitsOf(next.relay));
    // smtp-server reads `size` for each EHLO and DATA: new sessions advertise and enforce the new limit.
    server.options.size = next.relay.maxMessageBytes;
    if (!next.relay.tls) return;
    try {
      server.updateSecureContext(tlsOptions(next.relay)); // smtp-server's own API: the next STARTTLS uses it
      log.info({ cert: next.relay.tls.cert }, 'TLS certificate and key read again');
    } catch (err) {
      log.error({ err: (err as Error).message }, 'relay.tls unreadable on reload: STARTTLS keeps the running certificate');
    }
  });
  server.on('error', (err) => log.warn({ err: err.message }, 'SMTP connection error'));
  return {
    server,
    async shutdown() {
      closing = true;
      const until = Date.now() + CLOSE_TIMEOUT_MS;
      while (inFlight > 0 && Date.now() < until) await new Promise((res) => setTimeout(res, 50));
      if (inFlight > 0) log.warn({ inFlight }, 'closing with DATA still in flight: those messages are not acknowledged');
      await new Promise<void>((res) => server.close(() => res()));
    },
  };
}
