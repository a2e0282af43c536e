// What every command needs: the loaded config, a logger, the shop it is about, and output helpers.
import type { Command } from 'commander';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import type { ShopConfig } from '../config/schema.js';
import { createLogger, type Logger } from '../observe/logger.js';
import { BridgeError } from '../errors/codes.js';

export interface GlobalOpts { config?: string; logLevel?: string }

export function context(cmd: Command): LoadedConfig & { log: Logger } {
  const opts = cmd.optsWithGlobals<GlobalOpts>();
  const loaded = loadConfig(opts.config);
  return { ...loaded, log: createLogger(opts.logLevel ?? loaded.config.log.level) };
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

/** Aligned columns; a header row first. */
export function printTable(header: string[], rows: (string | number | null | undefined)[][]): void {
  const cells = [header, ...rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => [...(r[i] ?? '')].length)));
  for (const r of cells)
    process.stdout.write(r.map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat(widths[i] - [...c].length))).join('  ') + '\n');
}

export { iso, parseSince } from '../queries/time.js';
