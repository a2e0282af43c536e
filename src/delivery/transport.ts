// How bytes leave: a pooled SMTP transport to the smarthost, or an outbox folder (demo, staging).
// Both take the spool file as it is and report per-recipient results; neither rewrites the message.
import { createReadStream, mkdirSync } from 'node:fs';
import { copyFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import type { Config } from '../config/schema.js';

export interface Envelope { from: string; to: string[] }
export interface RecipientResult { address: string; ok: boolean; responseCode?: number; response: string }

/** Per-recipient outcomes; throws (with responseCode where known) when nothing reached a recipient stage. */
export interface DeliveryTransport {
  name: string;
  send(envelope: Envelope, spoolPath: string, tag: string): Promise<RecipientResult[]>;
  close(): void;
}

type SmtpError = Error & { responseCode?: number; response?: string; rejectedErrors?: SmtpError[]; recipient?: string };

export function smtpTransport(cfg: Config['upstream']): DeliveryTransport {
  const transporter = nodemailer.createTransport({
    pool: true, host: cfg.host, port: cfg.port, secure: cfg.secure, requireTLS: cfg.requireTLS,
    maxConnections: cfg.maxConnections, auth: cfg.auth,
    connectionTimeout: 30_000, greetingTimeout: 30_000, socketTimeout: 120_000,
    // Opportunistic STARTTLS (as Postfix's "may" level) does not verify; requireTLS/secure do.
    tls: { rejectUnauthorized: cfg.requireTLS || cfg.secure },
  } as any);
  return {
    name: 'smtp',
    async send(envelope, spoolPath) {
      try {
        const info = await transporter.sendMail({ envelope, raw: createReadStream(spoolPath) } as any);
        const rejected = new Map<string, SmtpError>(((info as any).rejectedErrors ?? []).map((e: SmtpError) => [String(e.recipient).toLowerCase(), e]));
        return envelope.to.map((address) => {
          const e = rejected.get(address.toLowerCase());
          return e ? { address, ok: false, responseCode: e.responseCode, response: e.response ?? e.message } : { address, ok: true, response: info.response };
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
    close: () => transporter.close(),
  };
}

/** Writes <tag>.eml (the bytes, unchanged) and <tag>.json (the envelope) into a folder. */
export function outboxTransport(dir: string): DeliveryTransport {
  mkdirSync(dir, { recursive: true });
  return {
    name: 'outbox',
    async send(envelope, spoolPath, tag) {
      const tmp = join(dir, `.${tag}.tmp`);
      await copyFile(spoolPath, tmp);
      await rename(tmp, join(dir, `${tag}.eml`));
      await writeFile(join(dir, `${tag}.json`), JSON.stringify(envelope, null, 2) + '\n');
      return envelope.to.map((address) => ({ address, ok: true, response: `250 written to ${dir}` }));
    },
    close() {},
  };
}

export function createTransport(cfg: Config['upstream']): DeliveryTransport {
  return cfg.outbox ? outboxTransport(cfg.outbox) : smtpTransport(cfg);
}
