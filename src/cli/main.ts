// zaiko-bridge: the command line. Parsing only; every command calls into its role or store.
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { BridgeError, EXIT } from '../errors/codes.js';
import { tightenUmask } from '../security/file-modes.js';
import { registerRun } from './run.js';
import { registerConfig } from './config.js';
import { registerDb } from './db.js';
import { registerStock } from './stock.js';
import { registerMail } from './mail.js';
import { registerQueue } from './queue.js';
import { debugOutput } from './context.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

export function buildProgram(): Command {
  const program = new Command('zaiko-bridge')
    .description('CraftCart ⇄ zaiko Robot: order-mail relay (one forward per order) and stock upload receiver')
    .version(pkg.version)
    .option('-c, --config <file>', 'config file (default: $ZAIKO_BRIDGE_CONFIG or config/zaiko-bridge.yaml)')
    .option('--log-level <level>', 'override log.level (trace, debug, info, warn, error, silent)')
    .option('--debug', 'print the stack trace of an unexpected error')
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError()
    .exitOverride();
  registerRun(program);
  registerConfig(program);
  registerDb(program);
  registerStock(program);
  registerMail(program);
  registerQueue(program);
  const override = (cmd: Command): void => {
    cmd.exitOverride();
    cmd.commands.forEach(override); // `stock webhook status` is three deep
  };
  program.commands.forEach(override);
  return program;
}

async function main(): Promise<void> {
  tightenUmask(); // nothing we create is readable by others, whatever umask we were started with
  // `zaiko-bridge mail list | head`: the reader went away; that is not an error of ours.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
      return;
    }
    if (err instanceof BridgeError) {
      process.stderr.write(`zaiko-bridge: ${err.message}\n`);
      process.exitCode = err.exitCode;
      return;
    }
    const e = err instanceof Error ? err : new Error(String(err));
    const sys = e as NodeJS.ErrnoException & { address?: string; port?: number };
    if (sys.syscall === 'listen' && (sys.code === 'EADDRINUSE' || sys.code === 'EACCES')) {
      const why =
        sys.code === 'EADDRINUSE'
          ? 'the address is already in use (another zaiko-bridge, or another server?)'
          : 'permission denied (ports below 1024 need CAP_NET_BIND_SERVICE)';
      process.stderr.write(`zaiko-bridge: cannot listen on ${sys.address}:${sys.port}: ${why}\n`);
      process.exitCode = EXIT.FAILURE;
      return;
    }
    // Anything else is our bug or the system's: one line for the operator, the stack on request.
    const kind = e.name && e.name !== 'Error' ? ` (${e.name})` : '';
    process.stderr.write(`zaiko-bridge: ${e.message.split('\n')[0]}${kind}\n`);
    if (debugOutput.on) process.stderr.write(`${e.stack}\n`);
    else process.stderr.write('zaiko-bridge: run again with --debug for the stack trace\n');
    process.exitCode = e.name === 'SqliteError' ? EXIT.UNAVAILABLE : EXIT.FAILURE;
  }
}

await main();
