// The only reader of the config file and of the environment: find, parse, override, validate,
// resolve relative paths against the file's folder, then freeze. Errors list every problem by path.
import { readFileSync, existsSync } from 'node:fs';
import { dirname, resolve, isAbsolute } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { maskUrl } from '../queue/redis-url.js';
import type { z } from 'zod';
import { configSchema, type Config } from './schema.js';
import { BridgeError } from '../errors/codes.js';
import { deepFreeze } from './holder.js';

export interface LoadedConfig {
  path: string;
  config: Config;
  /** The parsed YAML document as written (for `config check`: units as written, warnings). */
  raw?: unknown;
}

const TYPE_NAMES: Record<string, string> = {
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  int: 'a whole number',
};
const shown = (v: unknown) =>
  typeof v === 'string' ? JSON.stringify(v) : v === null ? 'nothing (null)' : (JSON.stringify(v) ?? String(v));

function findConfigPath(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(flag ?? env.ZAIKO_BRIDGE_CONFIG ?? 'config/zaiko-bridge.yaml');
}

function formatPath(path: PropertyKey[]): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)), '');
}

function formatIssues(issues: z.core.$ZodIssue[]): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    const at = formatPath(issue.path);
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) lines.push(`${formatPath([...issue.path, key])}: unknown key`);
    } else if (issue.code === 'invalid_type' && issue.input === undefined) {
      lines.push(`${at}: required`);
    } else if (issue.code === 'invalid_type') {
      lines.push(`${at || '(top)'}: expected ${TYPE_NAMES[issue.expected] ?? issue.expected}, got ${shown(issue.input)}`);
    } else if (issue.code === 'invalid_union') {
      const expected = [
        ...new Set(issue.errors.flat().map((e) => (e.code === 'invalid_type' ? (TYPE_NAMES[e.expected] ?? e.expected) : ''))),
      ].filter(Boolean);
      lines.push(`${at}: expected ${expected.join(' or ') || 'another value'}, got ${shown(issue.input)}`);
    } else if (issue.code === 'invalid_value') {
      lines.push(`${at}: expected one of ${issue.values.map((v) => String(v)).join(', ')}, got ${shown(issue.input)}`);
    } else {
      lines.push(`${at || '(top)'}: ${issue.message}`);
    }
  }
  return lines;
}

/** Environment overrides, applied to the raw document before validation. */
function applyEnv(raw: Record<string, any>, env: NodeJS.ProcessEnv): void {
  if (env.ZAIKO_BRIDGE_REDIS_URL !== undefined) (raw.redis ??= {}).url = env.ZAIKO_BRIDGE_REDIS_URL;
  if (env.ZAIKO_BRIDGE_UPSTREAM_PASS !== undefined && raw.upstream?.auth) raw.upstream.auth.pass = env.ZAIKO_BRIDGE_UPSTREAM_PASS;
  if (Array.isArray(raw.shops)) {
    for (const shop of raw.shops) {
      if (!shop || typeof shop.id !== 'string') continue;
      const pass = env[`ZAIKO_BRIDGE_SHOP_${shop.id.toUpperCase().replace(/-/g, '_')}_PASSWORD`];
      if (pass !== undefined) (shop.zaikoRobot ??= {}).password = pass;
    }
  }
}

/** Validates a parsed document; `baseDir` anchors relative paths. Throws CONFIG_INVALID with one line per problem. */
export function validateConfig(raw: unknown, baseDir: string, env: NodeJS.ProcessEnv = process.env): Config {
  const doc = (raw ?? {}) as Record<string, any>;
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new BridgeError('CONFIG_INVALID', '(top): must be a mapping of keys');
  applyEnv(doc, env);
  const result = configSchema.safeParse(doc, { reportInput: true });
  if (!result.success) throw new BridgeError('CONFIG_INVALID', formatIssues(result.error.issues).join('\n'));
  const cfg = result.data;
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  cfg.dataDir = abs(cfg.dataDir);
  if (cfg.relay.tls) cfg.relay.tls = { key: abs(cfg.relay.tls.key), cert: abs(cfg.relay.tls.cert) };
  if (cfg.upstream.outbox) cfg.upstream.outbox = abs(cfg.upstream.outbox);
  if (cfg.receiver.dropDir) cfg.receiver.dropDir = abs(cfg.receiver.dropDir);
  return deepFreeze(cfg);
}

/** `file:line:column: not valid YAML: why`, then the line as written and a caret under the column. */
function yamlProblem(path: string, text: string, err: Error): string {
  const why = err.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
  if (!(err instanceof YAMLParseError) || !err.linePos) return `${path}: not valid YAML: ${why}`;
  const { line, col } = err.linePos[0];
  const source = (text.split(/\r?\n/)[line - 1] ?? '').slice(0, 200);
  return `${path}:${line}:${col}: not valid YAML: ${why}\n  ${source}\n  ${' '.repeat(Math.max(0, col - 1))}^`;
}

export function loadConfig(flag?: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const path = findConfigPath(flag, env);
  if (!existsSync(path))
    throw new BridgeError('CONFIG_NOT_FOUND', `${path}: config file not found (give --config FILE or set ZAIKO_BRIDGE_CONFIG)`);
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new BridgeError('CONFIG_INVALID', yamlProblem(path, readFileSync(path, 'utf8'), err as Error));
  }
  const config = validateConfig(structuredClone(raw), dirname(path), env);
  return { path, config, raw };
}

/** The config with every secret replaced, for `config check` and logs. */
export function maskSecrets(cfg: Config): unknown {
  const mask = (s: string | undefined) => (s === undefined ? s : '********');
  return {
    ...cfg,
    redis: { ...cfg.redis, url: maskUrl(cfg.redis.url) },
    relay: { ...cfg.relay, users: cfg.relay.users.map((u) => ({ name: u.name, password: mask(u.password) })) },
    console: { ...cfg.console, users: cfg.console.users.map((u) => ({ name: u.name, password: mask(u.password) })) },
    upstream: { ...cfg.upstream, auth: cfg.upstream.auth && { user: cfg.upstream.auth.user, pass: mask(cfg.upstream.auth.pass) } },
    shops: cfg.shops.map((s) => ({
      ...s,
      zaikoRobot: { userId: s.zaikoRobot.userId, password: mask(s.zaikoRobot.password) },
      ...(s.cart && {
        cart: {
          ...s.cart,
          token: mask(s.cart.token),
          webhook: s.cart.webhook && { ...s.cart.webhook, url: maskUrl(s.cart.webhook.url), secret: mask(s.cart.webhook.secret) },
        },
      }),
    })),
  };
}
