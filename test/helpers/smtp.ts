// A real SMTP sink (smtp-server on a loopback port) that records each envelope and the raw bytes, and
// can answer a recipient with a chosen code; plus a client that sends raw bytes with an envelope.
import { SMTPServer } from 'smtp-server';
import nodemailer from 'nodemailer';
import type { AddressInfo } from 'node:net';

export interface Received {
  from: string;
  to: string[];
  raw: Buffer;
}

export interface Sink {
  port: number;
  messages: Received[];
  /** address → list of reply codes for successive RCPTs (250 when the list is used up). */
  script: Map<string, number[]>;
  /** Connections accepted so far. */
  connections(): number;
  /** Ends every open session from the server side (what a smarthost does to idle clients). */
  dropSessions(): void;
  close(): Promise<void>;
}

export async function startSink(): Promise<Sink> {
  const messages: Received[] = [];
  const script = new Map<string, number[]>();
  let connections = 0;
  const server = new SMTPServer({
    onConnect(_s, cb) {
      connections++;
      cb();
    },
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    disableReverseLookup: true,
    hideENHANCEDSTATUSCODES: true,
    onRcptTo(address, _s, cb) {
      const codes = script.get(address.address);
      const code = codes?.length ? codes.shift()! : 250;
      if (code === 250) return cb();
      const err = new Error(`${code >= 500 ? '5.1.1' : '4.2.0'} scripted ${code} for ${address.address}`) as Error & {
        responseCode: number;
      };
      err.responseCode = code;
      cb(err);
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c) => chunks.push(c));
      stream.on('end', () => {
        messages.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks),
        });
        cb(null, 'Ok: sunk');
      });
    },
  });
  server.on('error', () => {}); // a client killed mid-session (crash tests) resets its socket
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.server.address() as AddressInfo).port,
    messages,
    script,
    connections: () => connections,
    dropSessions: () => {
      for (const c of (server as unknown as { connections: Set<{ close(): void }> }).connections) c.close();
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}

export interface SendOptions {
  port: number;
  from: string;
  to: string[];
  raw: Buffer | string;
  localAddress?: string;
  auth?: { user: string; pass: string };
  requireTLS?: boolean;
}

/** Sends one message; resolves with the final reply and refused recipients, rejects with the error (responseCode set). */
export async function sendMail(
  o: SendOptions,
): Promise<{ response: string; rejected: string[]; rejectedErrors?: { responseCode: number }[] }> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: o.port,
    secure: false,
    localAddress: o.localAddress,
    auth: o.auth,
    requireTLS: o.requireTLS,
    ignoreTLS: !o.requireTLS,
    tls: { rejectUnauthorized: false },
    connectionTimeout: 5000,
  } as any);
  try {
    const info = await transport.sendMail({ envelope: { from: o.from, to: o.to }, raw: o.raw } as any);
    return info as any;
  } finally {
    transport.close();
  }
}
