// `config check` and `config hash-password`.
import type { Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import { readFileSync } from 'node:fs';
import { maskSecrets } from '../config/load.js';
import { hashPassword } from '../config/password.js';
import { configWarnings, unitsAsWritten } from '../config/check.js';
import { SECRET_PREFIX } from '../config/webhook-url.js';
import { newToken } from '../security/bearer-token.js';
import { context } from './context.js';
import { BridgeError } from '../errors/codes.js';

/** A process's parent pid (Linux /proc), or 0 when it cannot be read. */
function parentPid(pid: number): number {
  try {
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ")".
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) || 0;
  } catch {
    return 0;
  }
}

async function readSecret(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

export function registerConfig(program: Command): void {
  const config = program.command('config').description('check the configuration, reload it in the running roles, hash passwords');
  config
    .command('check')
    .description('validate the config file and print the effective config, secrets masked')
    .action((_o, cmd: Command) => {
      const { path, config: cfg, raw } = context(cmd);
      for (const w of configWarnings(cfg, raw, path)) process.stderr.write(`warning: ${w}\n`);
      process.stdout.write(`# ${path}: valid\n` + stringify(unitsAsWritten(maskSecrets(cfg) as Record<string, unknown>, raw)));
    });
  config
    .command('reload')
    .description('make the roles running on this dataDir read the config file again (SIGHUP), once it is valid')
    .action(async (_o, cmd: Command) => {
      const { path, config: cfg, raw } = context(cmd); // an invalid file: exit 78 with every problem, nothing signalled
      for (const w of configWarnings(cfg, raw, path)) process.stderr.write(`warning: ${w}\n`);
      const { runningRoles } = await import('../roles/data-dir-lock.js');
      const found = runningRoles(cfg.dataDir);
      if (found.size === 0) throw new BridgeError('NOT_FOUND', `no role is running on dataDir ${cfg.dataDir} (nothing to reload)`);
      for (const [pid, parts] of found) {
        // The stock worker under `start` gets the signal from its parent, which passes every SIGHUP on.
        if (found.has(parentPid(pid))) continue;
        process.kill(pid, 'SIGHUP');
        process.stdout.write(`pid ${pid} (${parts.join(', ')}): reload signalled\n`);
      }
      process.stderr.write("each role logs the outcome: 'config reloaded', or every problem and 'config reload refused'\n");
    });
  config
    .command('hash-password')
    .description('print a scrypt hash for relay.users[].password, console.users[].password or zaikoRobot.password')
    .argument('[password]', 'the password (read from stdin when left out, so it stays out of shell history)')
    .action(async (password: string | undefined) => {
      process.stdout.write((await hashPassword(password ?? (await readSecret()))) + '\n');
    });
  config
    .command('gen-secret')
    .description('print a new secret for shops[].cart.webhook.secret (whsec_ and 32 random bytes in base64)')
    .action(() => {
      process.stdout.write(`${SECRET_PREFIX}${randomBytes(32).toString('base64')}\n`);
    });
  config
    .command('gen-token')
    .description('print a new change-feed token (give it to the cart) and its sha256$ hash (for shops[].cart.token)')
    .action(() => {
      const { token, hash } = newToken();
      process.stdout.write(`token: ${token}\nhash:  ${hash}\n`);
    });
}
