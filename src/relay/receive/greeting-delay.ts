// smtp-server waits a fixed 100 ms before its greeting to catch early talkers (SMTPConnection.init).
// That caps a client sending one message per connection at ~10 msg/s per session. Clients in
// relay.allowedClients are our own cart/MTA, not spam bots: greet them at once. Everyone else keeps
// the delay. The patch checks the library's code first and leaves it alone if it has changed;
// smtp-server is pinned exactly and test/relay/library-internals.test.ts fails on a different init.
// docs/upstream-smtp-server-greeting.md drafts the option that would make this patch unnecessary.
import { createRequire } from 'node:module';
import type * as SmtpConnectionLib from 'smtp-server/lib/smtp-connection.js';

/** The CommonJS build's, the one relay/receive/smtp-server.ts's SMTPServer uses (it says why). */
const { SMTPConnection } = createRequire(import.meta.url)('smtp-server/lib/smtp-connection.js') as typeof SmtpConnectionLib;

type Conn = {
  remoteAddress: string;
  _server: { options: { maxClients?: number; greetAtOnce?: (address: string) => boolean }; connections: Set<unknown> };
  _setListeners(cb: () => void): void;
  connectionReady(): void;
  send(code: number, text: string, context?: unknown): void;
  name: string;
};

let installed: boolean | undefined;

/** Installs the patch once; returns false (and changes nothing) when smtp-server's init is not the one it knows. */
export function installGreetingPatch(): boolean {
  if (installed !== undefined) return installed;
  const proto = (SMTPConnection as unknown as { prototype: { init(): void } }).prototype;
  const original = proto.init;
  installed = /setTimeout\(\(\) => this\.connectionReady\(\), 100\)/.test(original.toString());
  if (!installed) return false;
  const patched = function (this: Conn) {
    const greetAtOnce = this._server.options.greetAtOnce;
    if (!greetAtOnce || !greetAtOnce(this.remoteAddress)) return original.call(this);
    this._setListeners(() => {
      const { maxClients } = this._server.options;
      if (maxClients && this._server.connections.size > maxClients) {
        return this.send(421, this.name + ' Too many connected clients, try again in a moment', false);
      }
      this.connectionReady();
    });
  };
  proto.init = Object.assign(patched, { original }); // test/relay/library-internals.test.ts hashes the original
  return true;
}
