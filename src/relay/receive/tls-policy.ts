// The relay's STARTTLS as an auditor checks it: TLS 1.2 and 1.3 only, TLS 1.2 suites with ECDHE and
// AEAD only (no CBC: LUCKY13), and no client-initiated renegotiation (a CPU lever for one client;
// Postfix and current OpenSSL servers refuse it too).
import { TLSSocket, type SecureContextOptions } from 'node:tls';
import type { Socket } from 'node:net';

/** The server side of relay.tls: the operator's suites (relay.tlsCiphers), never below TLS 1.2. */
export function relayTlsPolicy(ciphers: string): SecureContextOptions & { honorCipherOrder: boolean } {
  return { ciphers, minVersion: 'TLSv1.2', honorCipherOrder: true };
}

/**
 * For smtp-server's onSecure hook (the socket it upgraded): a renegotiation the client starts is a TLS
 * error that ends the session (smtp-server logs it as an SMTP connection error). smtp-server listens
 * for one 'error' only; this listener stays, so a second error on the dying socket cannot go unhandled.
 */
export function refuseRenegotiation(socket: Socket | TLSSocket): void {
  if (!(socket instanceof TLSSocket)) return;
  socket.disableRenegotiation();
  socket.on('error', () => socket.destroy());
}
