// How bytes leave: pooled SMTP connections to the smarthost (smtp-pool.ts), or an outbox folder (demo, staging).
// Both take the spooled message as it is and report per-recipient results; neither rewrites the message.
import { makePrivateDir, PRIVATE_FILE_MODE } from '../security/file-modes.js';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SmtpPool, type SmtpError } from './smtp-pool.js';
import type { Config } from '../config/schema.js';
import type { StoredMessage } from '../intake/spool/stored-message.js';

interface Envelope {
  from: string;
  to: string[];
}
interface RecipientResult {
  address: string;
  ok: boolean;
  responseCode?: number;
  response: string;
}

/** Per-recipient outcomes; throws (with responseCode where known) when nothing reached a recipient stage. */
export interface DeliveryTransport {
  name: string;
  send(envelope: Envelope, message: StoredMessage, tag: string): Promise<RecipientResult[]>;
  close(): void;
}

export function smtpTransport(cfg: Config['upstream'], heloName?: string): DeliveryTransport {
  const pool = new SmtpPool({
    host: cfg.host,
    port: cfg.port,
    secure: cfg.secure,
    requireTLS: cfg.requireTLS,
    auth: cfg.auth,
    name: heloName,
    maxConnections: cfg.maxConnections,
    connectionTimeout: 30_000,
    greetingTimeout: 30_000,
    socketTimeout: 120_000,
    // Opportunistic STARTTLS (as Postfix's "may" level) does not verify; requireTLS/secure do.
    tls: { rejectUnauthorized: cfg.requireTLS || cfg.secure },
  });
  return {
    name: 'smtp',
    async send(envelope, message) {
      try {
        const info = await pool.send(envelope, message);
        const rejected = new Map((info.rejectedErrors ?? []).map((e) => [String(e.recipient).toLowerCase(), e]));
        return envelope.to.map((address) => {
          const e = rejected.get(address.toLowerCase());
          return e
            ? { address, ok: false, responseCode: e.responseCode, response: e.response ?? e.message }
            : { address, ok: true, response: info.response };
        });
      } catch (err) {
        const e = err as SmtpError;
        if (e.rejectedErrors?.length) {
          // Every recipient refused at RCPT: each with its own answer.
          const byAddr = new Map(e.rejectedErrors.map((r) => [String(r.recipient).toLowerCase(), r]));
          return envelope.to.map((address) => {
            const r = byAddr.get(address.toLowerCase());
            return { address, ok: false, responseCode: r?.responseCode ?? e.responseCode, response: r?.response ?? e.message };
          });
        }
        throw err;
      }
    },
    close: () => pool.close(),
  };
}

/** Writes <tag>.eml (the bytes, unchanged) and <tag>.json (the envelope) into a folder. */
function outboxTransport(dir: string): DeliveryTransport {
  makePrivateDir(dir);
  return {
    name: 'outbox',
    async send(envelope, message, tag) {
      const tmp = join(dir, `.${tag}.tmp`);
      await writeFile(tmp, message.stream(), { mode: PRIVATE_FILE_MODE });
      await rename(tmp, join(dir, `${tag}.eml`));
      await writeFile(join(dir, `${tag}.json`), JSON.stringify(envelope, null, 2) + '\n', { mode: PRIVATE_FILE_MODE });
      return envelope.to.map((address) => ({ address, ok: true, response: `250 written to ${dir}` }));
    },
    close() {},
  };
}

export function createTransport(cfg: Config['upstream'], heloName?: string): DeliveryTransport {
  return cfg.outbox ? outboxTransport(cfg.outbox) : smtpTransport(cfg, heloName);
}
