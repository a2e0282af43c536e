// A throwaway Postfix instance (its own config and queue directories, loopback only) for benchmarks
// and the content-filter test: `postfix -c DIR start-fg`, stopped with `postfix -c DIR stop`.
import { mkdirSync, writeFileSync, chownSync, chmodSync, openSync, readFileSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import { join, dirname } from 'node:path';
import { listening } from './lib.mjs';

const MASTER_SERVICES = `
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`;

/**
 * port: the smtpd listener's port (in master); main: extra main.cf lines; master: extra master.cf lines.
 * Returns { stop() }. Needs root (Postfix drops to the postfix user).
 */
export async function startPostfix(dir, { port, main, master }) {
  const etc = join(dir, 'etc'),
    queue = join(dir, 'queue'),
    data = join(dir, 'data');
  for (const d of [etc, queue, data]) mkdirSync(d, { recursive: true });
  const uid = Number(execFileSync('id', ['-u', 'postfix']).toString());
  chownSync(data, uid, -1);
  // Postfix's daemons run as the postfix user: every folder above its queue must be searchable.
  for (let d = dir; d !== '/' && d !== '/tmp'; d = dirname(d)) chmodSync(d, 0o755);
  writeFileSync(
    join(etc, 'main.cf'),
    [
      'compatibility_level = 3.6',
      `queue_directory = ${queue}`,
      `data_directory = ${data}`,
      'command_directory = /usr/sbin',
      'daemon_directory = /usr/lib/postfix/sbin',
      'mail_owner = postfix',
      'setgid_group = postdrop',
      'inet_interfaces = 127.0.0.1',
      'inet_protocols = ipv4',
      'myhostname = postfix.bench.local',
      'mydestination =',
      'mynetworks = 127.0.0.0/8',
      'alias_maps =',
      'alias_database =',
      'local_recipient_maps =',
      'maillog_file = /dev/stdout',
      'smtp_tls_security_level = none',
      'smtpd_tls_security_level = none',
      'smtpd_relay_restrictions = permit_mynetworks, reject',
      ...main,
      '',
    ].join('\n'),
  );
  writeFileSync(join(etc, 'master.cf'), [...master, MASTER_SERVICES].join('\n'));
  execFileSync('postfix', ['-c', etc, 'set-permissions'], { stdio: 'ignore' });
  const log = openSync(join(dir, 'maillog'), 'a');
  const proc = spawn('postfix', ['-c', etc, 'start-fg'], { stdio: ['ignore', log, log] });
  if (!(await listening(port)))
    throw new Error(`postfix did not listen on ${port}: ${readFileSync(join(dir, 'maillog'), 'utf8').slice(-2000)}`);
  return {
    maillog: join(dir, 'maillog'),
    stop: async () => {
      try {
        execFileSync('postfix', ['-c', etc, 'stop'], { stdio: 'ignore' });
      } catch {
        /* already down */
      }
      await new Promise((r) => (proc.exitCode !== null ? r() : proc.once('exit', r)));
    },
  };
}
