// SIGHUP: read the config file again and swap it in for new sessions, requests and jobs. An invalid
// file changes nothing (each problem logged as `config check` prints it); a change to a key that needs a
// restart is logged and the running value kept (config/holder.ts RESTART_KEYS).
import { loadConfig } from '../config/load.js';
import { keepRestartKeys, type ConfigHolder } from '../config/holder.js';
import type { Logger } from '../observe/logger.js';
import type { Metrics } from '../observe/metrics.js';
import type { Config } from '../config/schema.js';
import { BridgeError } from '../errors/codes.js';

/**
 * True when the file's config is now the running one. `check`: the role's own problems with a config
 * (files it reads, such as relay.tls).
 */
export function reloadConfig(
  holder: ConfigHolder,
  path: string,
  log: Logger,
  metrics?: Metrics,
  check?: (cfg: Config) => string[],
): boolean {
  let next;
  try {
    next = loadConfig(path).config;
    const problems = check?.(keepRestartKeys(holder.get(), next).config) ?? [];
    if (problems.length) throw new BridgeError('CONFIG_INVALID', problems.join('\n'));
  } catch (err) {
    // One entry per problem as `config check` prints it: a YAML error's quoted line and caret stay with it.
    const problems = (err as Error).message.split(/\n(?! )/);
    for (const problem of problems) log.error({ config: path, problem }, `config reload: ${problem}`);
    log.error({ config: path }, 'config reload refused: the running config stays');
    metrics?.configReloadFailures.inc();
    return false;
  }
  const { config, kept } = keepRestartKeys(holder.get(), next);
  for (const key of kept) log.warn({ key }, `config reload: ${key} changed: it needs a restart; the running value is kept`);
  holder.replace(config);
  metrics?.configReloadLastSuccess.set(Date.now() / 1000);
  log.info({ config: path, shops: config.shops.length, restartNeeded: kept }, 'config reloaded: new sessions, requests and jobs use it');
  return true;
}
