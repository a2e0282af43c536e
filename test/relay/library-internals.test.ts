// Two of the three places the relay relies on a library's non-public code, pinned and checked: a new
// version of smtp-server or mailparser fails here, loudly, before it can change behaviour quietly.
// (The third, src/delivery/data-stream-fast-path.ts on nodemailer's DataStream, has its own test:
// test/delivery/data-stream-fast-path.test.ts.)
// - src/relay/receive/greeting-delay.ts replaces SMTPConnection#init (the 100 ms early-talker delay);
// - src/intake/classify/single-part.ts borrows MailParser#processHeaders and uses mailparser's splitter
//   and charset decoder as direct dependencies (@zone-eu/mailsplit, libmime).
import { describe, it, expect } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type * as SmtpConnectionLib from 'smtp-server/lib/smtp-connection.js';
import { MailParser } from 'mailparser';
import { installGreetingPatch } from '../../src/relay/receive/greeting-delay.js';

const require = createRequire(import.meta.url);
/** The CommonJS build's, the one the relay patches (src/relay/receive/greeting-delay.ts). */
const { SMTPConnection } = require('smtp-server/lib/smtp-connection.js') as typeof SmtpConnectionLib;
const ROOT = join(import.meta.dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const installed = (name: string, from = ROOT) =>
  JSON.parse(readFileSync(require.resolve(`${name}/package.json`, { paths: [from] }), 'utf8')).version as string;

/** sha256 of SMTPConnection.prototype.init in smtp-server 3.21.6: the code the greeting patch replaces. */
const INIT_SHA256 = '1265a7d7ca8f5510b4ce94ce4c52bdc127a13b6ef912ec7f9dec69be7a662918';

describe('library internals, pinned', () => {
  it('pins smtp-server and mailparser exactly, and mailsplit and libmime at the versions mailparser pins', () => {
    expect(pkg.dependencies['smtp-server']).toBe('3.21.6');
    expect(pkg.dependencies.mailparser).toBe('3.14.2');
    expect(installed('smtp-server')).toBe('3.21.6');
    expect(installed('mailparser')).toBe('3.14.2');
    const mailparserDir = join(require.resolve('mailparser/package.json', { paths: [ROOT] }), '..');
    for (const dep of ['@zone-eu/mailsplit', 'libmime']) {
      expect(pkg.dependencies[dep], dep).toBe(installed(dep, mailparserDir)); // one copy: the reader and mailparser agree
      expect(installed(dep)).toBe(pkg.dependencies[dep]);
    }
  });

  it("smtp-server's init is the one the greeting patch knows (else: update INIT_SHA256 after reading the new code)", () => {
    const init = (SMTPConnection as unknown as { prototype: { init(): void } }).prototype.init;
    // After installGreetingPatch the prototype holds the wrapper: hash the original it kept, or the current one.
    const original = (init as { original?: () => void }).original ?? init;
    expect(createHash('sha256').update(original.toString()).digest('hex')).toBe(INIT_SHA256);
    expect(installGreetingPatch()).toBe(true);
  });

  it('mailparser still has the processHeaders the single-part reader borrows', () => {
    const parser = new MailParser() as unknown as { processHeaders?: unknown };
    expect(typeof parser.processHeaders).toBe('function');
  });
});
