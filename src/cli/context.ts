// What every command needs: the loaded config, a logger, the shop it is about, and output helpers.
import type { Command } from 'commander';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import type { ShopConfig } from '../config/schema.js';
import { createLogger, type Logger } from '../observe/logger.js';
import { BridgeError } from '../errors/codes.js';
import { wholeNumber } from './options.js';
import type { Redis } from 'ioredis';
import type { Config } from '../config/schema.js';

interface GlobalOpts {
  config?: string;
  logLevel?: string;
  debug?: boolean;
}

/** Whether an unexpected error is printed with its stack (`--debug`, or log level debug/trace). */
export const debugOutput = { on: process.argv.includes('--debug') };

export function context(cmd: Command): LoadedConfig & { log: Logger } {
  const opts = cmd.optsWithGlobals<GlobalOpts>();
  const loaded = loadConfig(opts.config);
  const level = opts.logLevel ?? loaded.config.log.level;
  if (opts.debug || level === 'debug' || level === 'trace') debugOutput.on = true;
  return { ...loaded, log: createLogger(level) };
}

/** Redis for an operator command; with redis.url empty, says that the private Redis lives only under `start`. */
export async function connectCli(config: Config): Promise<Redis> {
  // ioredis is loaded by the commands that talk to Redis, not by every command.
  const { connectOrFail, redisSpec, privateSocketPath } = await import('../queue/redis.js');
  try {
    return await connectOrFail(redisSpec(config));
  } catch (err) {
    if (config.redis.url || config.redis.sentinels.length || !(err instanceof BridgeError)) throw err;
    throw new BridgeError(
      'REDIS_UNAVAILABLE',
      `the private Redis (${privateSocketPath(config.dataDir)}) runs only while ` +
        '`zaiko-bridge start` runs for this dataDir: start it (npm start), or set redis.url to a Redis that runs on its own',
      { cause: err },
    );
  }
}

/** `--limit n` and `--offset n`, the same on every list and show. */
export function pageOptions(cmd: Command, defaultLimit: number): Command {
  return cmd
    .option('--limit <n>', 'at most n rows', wholeNumber('--limit', 1), defaultLimit)
    .option('--offset <n>', 'skip the first n rows', wholeNumber('--offset', 0), 0);
}

/** `--shop S`, or the only shop when exactly one is configured. */
export function pickShop(shops: readonly ShopConfig[], id: string | undefined): ShopConfig {
  if (id) {
    const shop = shops.find((s) => s.id === id);
    if (!shop) throw new BridgeError('NOT_FOUND', `unknown shop ${id} (configured: ${shops.map((s) => s.id).join(', ') || 'none'})`);
    return shop;
  }
  if (shops.length === 1) return shops[0];
  throw new BridgeError('BAD_INPUT', `--shop is required: ${shops.length} shops are configured (${shops.map((s) => s.id).join(', ')})`);
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

const ROWS_PER_WRITE = 1000;

/**
 * Aligned columns under a header row, or `empty` (e.g. "no messages") when there is no row. Widths are
 * found in one pass (no spread: 200,000 rows must not hit the call-stack limit) and the lines are
 * written a thousand at a time.
 */
export function printTable(header: string[], rows: (string | number | null | undefined)[][], empty: string): void {
  if (rows.length === 0) {
    process.stdout.write(`${empty}\n`);
    return;
  }
  const text = (c: string | number | null | undefined) => (c === null || c === undefined ? '-' : String(c));
  const width = (s: string) => [...s].length;
  const widths = header.map(width);
  for (const r of rows) for (let i = 0; i < widths.length; i++) widths[i] = Math.max(widths[i], width(text(r[i])));
  const line = (r: (string | number | null | undefined)[]) =>
    header.map((_, i) => (i === header.length - 1 ? text(r[i]) : text(r[i]) + ' '.repeat(widths[i] - width(text(r[i]))))).join('  ');
  let chunk = [line(header)];
  for (const r of rows) {
    chunk.push(line(r));
    if (chunk.length >= ROWS_PER_WRITE) {
      process.stdout.write(chunk.join('\n') + '\n');
      chunk = [];
    }
  }
  if (chunk.length) process.stdout.write(chunk.join('\n') + '\n');
}

/** After a full page, a hint on stderr (stdout stays the table) that there may be more. */
export function morePages(shown: number, page: { limit: number; offset: number }): void {
  if (shown === page.limit) process.stderr.write(`(${shown} shown; --offset ${page.offset + shown} for the next ones)\n`);
}

export { iso } from '../queries/time.js';
