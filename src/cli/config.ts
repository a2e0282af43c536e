// `config check` and `config hash-password`.
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { maskSecrets } from '../config/load.js';
import { hashPassword } from '../config/password.js';
import { configWarnings, unitsAsWritten } from '../config/check.js';
import { context } from './context.js';

async function readSecret(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

export function registerConfig(program: Command): void {
  const config = program.command('config').description('check the configuration, hash passwords');
  config
    .command('check')
    .description('validate the config file and print the effective config, secrets masked')
    .action((_o, cmd: Command) => {
      const { path, config: cfg, raw } = context(cmd);
      for (const w of configWarnings(cfg, raw, path)) process.stderr.write(`warning: ${w}\n`);
      process.stdout.write(`# ${path}: valid\n` + stringify(unitsAsWritten(maskSecrets(cfg) as Record<string, unknown>, raw)));
    });
  config
    .command('hash-password')
    .description('print a scrypt hash for relay.users[].password, console.users[].password or zaikoRobot.password')
    .argument('[password]', 'the password (read from stdin when left out, so it stays out of shell history)')
    .action(async (password: string | undefined) => {
      process.stdout.write((await hashPassword(password ?? (await readSecret()))) + '\n');
    });
}
