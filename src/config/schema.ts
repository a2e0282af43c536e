// The configuration schema: every key of design.md's table, its default, and its validation.
// Unknown keys are errors (strict objects): a typo must never fall back to a default silently.
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { createSecureContext } from 'node:tls';
import { z } from 'zod';
import { parseDurationMs, parseSizeBytes } from './units.js';
import { SKIP_REASONS } from '../errors/skip-reasons.js';
import { isScryptHash } from './password.js';
import { secretKey, webhookUrlProblem } from './webhook-url.js';

/**
 * A time zone V8 knows. Its list first: a DateTimeFormat loads ~4.5 MB of ICU's locale and calendar data
 * into the process (Node 24; 8 MB of RSS in all), which `start` needs only when the console runs. Names
 * the list does not hold (aliases such as Asia/Calcutta, other spellings) still get the full check.
 */
function knownTimeZone(tz: string): boolean {
  if (Intl.supportedValuesOf('timeZone').includes(tz)) return true;
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const duration = (def: string) =>
  z
    .union([z.string(), z.number()])
    .default(def)
    .transform((v, ctx) => {
      const ms = parseDurationMs(v);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `invalid duration ${JSON.stringify(v)} (use 500ms, 60s, 5m, 1h, 5d or milliseconds)` });
        return z.NEVER;
      }
      return ms;
    });

const size = (def: string) =>
  z
    .union([z.string(), z.number()])
    .default(def)
    .transform((v, ctx) => {
      const bytes = parseSizeBytes(v);
      if (bytes === undefined) {
        ctx.addIssue({ code: 'custom', message: `invalid size ${JSON.stringify(v)} (use 512KiB, 32MiB or bytes)` });
        return z.NEVER;
      }
      return bytes;
    });

const regex = (def: string) =>
  z
    .string()
    .default(def)
    .superRefine((s, ctx) => {
      try {
        new RegExp(s, 'u');
      } catch (err) {
        // V8 says why: "Invalid regular expression: /(/u: Unterminated group"
        ctx.addIssue({
          code: 'custom',
          message: `invalid regular expression: ${(err as Error).message.replace(/^Invalid regular expression: /, '')}`,
        });
      }
    });

const email = z.string().regex(/^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/, 'invalid email');
const port = z.number().int().min(0).max(65535);
const cidr = z.string().refine((s) => {
  const [addr, bits, extra] = s.split('/');
  const family = isIP(addr);
  if (!family || extra !== undefined) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return /^\d+$/.test(bits) && n <= (family === 4 ? 32 : 128);
}, 'invalid CIDR (e.g. 127.0.0.1/32 or ::1/128)');
const password = z.string().min(1, 'must not be empty');
/** "host:port" (IPv6 as "[::1]:26379"), as redis.sentinels lists them. */
const hostPort = z.string().refine((s) => {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(s);
  return !!m && Number(m[2]) > 0 && Number(m[2]) <= 65535;
}, 'must be host:port (e.g. 10.0.0.5:26379 or [::1]:26379)');
/** TLS 1.3 suites, then TLS 1.2 with ECDHE and AEAD only (Mozilla's "intermediate" without DHE): no CBC, no RSA key exchange. */
const MODERN_TLS_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');
/** An OpenSSL cipher string, checked by OpenSSL itself. */
const tlsCiphers = z.string().refine((s) => {
  try {
    createSecureContext({ ciphers: s });
    return true;
  } catch {
    return false;
  }
}, 'no cipher OpenSSL knows (an OpenSSL cipher string such as ECDHE+AESGCM:TLS_AES_128_GCM_SHA256)');
/** shops[].cart.webhook: where and how changes are pushed to the cart (Standard Webhooks 1.0 signatures). */
const cartWebhook = z
  .strictObject({
    url: z.string(),
    secret: z
      .string()
      .refine((s) => secretKey(s) !== undefined, 'must be whsec_<base64 of at least 24 bytes> (`config gen-secret` prints one)'),
    timeout: duration('10s'),
    batchMax: z.number().int().min(1).max(10_000).default(500),
    sources: z
      .array(z.enum(['upload', 'order', 'import']))
      .min(1, 'must name at least one source')
      .default(['upload']),
    allowInsecure: z.boolean().default(false),
  })
  .superRefine((w, ctx) => {
    const problem = webhookUrlProblem(w.url, w.allowInsecure);
    if (problem) ctx.addIssue({ code: 'custom', path: ['url'], message: problem });
  });
/** shops[].cart.token: the change feed's bearer token, plain or as `config gen-token` hashes it. */
const cartToken = z
  .string()
  .refine(
    (s) => (s.startsWith('sha256$') ? /^sha256\$[0-9a-f]{64}$/.test(s) : s.length >= 16 && /^[\x21-\x7e]+$/.test(s)),
    'must be sha256$<64 hex digits> or a plain token of at least 16 printable ASCII characters (`config gen-token` prints one)',
  );
const defaultHost = hostname().replace(/[^A-Za-z0-9._-]/g, '-');

const shop = z.strictObject({
  id: z.string().regex(/^[a-z0-9-]+$/, 'must match [a-z0-9-]+'),
  senders: z.array(z.string().regex(/^([^\s@<>]+@[^\s@<>]+|@[^\s@<>]+)$/, 'must be an address or @domain')).default([]),
  authUsers: z.array(z.string()).default([]),
  clients: z.array(cidr).default([]), // when set: only mail from these (original) clients is this shop's
  forwardTo: email.optional(),
  forwardEnvelopeFrom: email.optional(),
  forwardOnce: z.enum(['order-number', 'message-id', 'off']).default('order-number'),
  orderMail: z
    .strictObject({
      subject: regex('ご注文'),
      orderNumber: regex('注文番号[:：]\\s*([0-9A-Za-z-]+)'),
      item: z
        .strictObject({
          code: regex('商品コード[:：]\\s*(\\S+)'),
          quantity: regex('数量[:：]\\s*(\\d+)'),
        })
        .prefault({}),
    })
    .prefault({}),
  zaikoRobot: z.strictObject({
    userId: z.string().min(1, 'must not be empty'),
    password,
    clients: z.array(cidr).default([]), // zaiko Robot's sending hosts: a reserved share of the receiver
  }),
  uploadCharset: z.enum(['auto', 'utf-8', 'shift_jis', 'euc-jp']).default('auto'),
  decrementOnOrder: z.boolean().default(true), // this shop's order mail lowers stock.db (source order)
  cart: z.strictObject({ token: cartToken.optional(), webhook: cartWebhook.optional() }).optional(),
});

export const configSchema = z
  .strictObject({
    dataDir: z.string().default('./data'),
    instance: z
      .string()
      .regex(/^[A-Za-z0-9._-]+$/, 'must match [A-Za-z0-9._-]+')
      .default(defaultHost),
    redis: z
      .strictObject({
        url: z
          .string()
          .regex(/^$|^(redis|rediss|unix):\/\//, 'must be empty, redis://… or unix://…')
          .default(''),
        sentinels: z.array(hostPort).default([]),
        masterName: z.string().min(1, 'must not be empty').default('mymaster'),
        prefix: z
          .string()
          .regex(/^[^\s:]+$/, 'must be non-empty, without spaces or ":" (for Redis Cluster: {zb})')
          .default('bull'),
      })
      .prefault({}),
    log: z.strictObject({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info') }).prefault({}),
    relay: z
      .strictObject({
        host: z.string().default('127.0.0.1'),
        port: port.default(2525),
        hostname: z.string().default(hostname()),
        allowedClients: z.array(cidr).default(['127.0.0.1/32', '::1/128']),
        xforwardClients: z.array(cidr).default([]), // may send XFORWARD (the local Postfix of the content filter)
        users: z.array(z.strictObject({ name: z.string().min(1), password })).default([]),
        allowInsecureAuth: z.boolean().default(false),
        tls: z.strictObject({ key: z.string(), cert: z.string() }).optional(),
        tlsCiphers: tlsCiphers.default(MODERN_TLS_CIPHERS),
        maxMessageBytes: size('25MiB'),
        maxRecipients: z.number().int().positive().default(100),
        maxClients: z.number().int().positive().default(100),
        maxClientsPerAddress: z.number().int().positive().default(10),
        junkCommandLimit: z.number().int().positive().default(100),
        maxSessionTime: duration('10m'),
        socketTimeout: duration('60s'),
        metricsPort: port.optional(),
      })
      .prefault({}),
    upstream: z
      .strictObject({
        host: z.string().default('127.0.0.1'),
        port: port.default(25),
        secure: z.boolean().default(false),
        requireTLS: z.boolean().default(false),
        auth: z.strictObject({ user: z.string(), pass: z.string() }).optional(),
        maxConnections: z.number().int().positive().default(5),
        outbox: z.string().optional(),
      })
      .prefault({}),
    delivery: z
      .strictObject({
        concurrency: z.number().int().positive().default(10),
        backoff: z.strictObject({ initial: duration('5m'), max: duration('1h') }).prefault({}),
        maxLifetime: duration('5d'),
        bounces: z.boolean().default(false),
      })
      .prefault({}),
    spool: z.strictObject({ keepDays: z.number().min(0).default(0) }).prefault({}),
    receiver: z
      .strictObject({
        host: z.string().default('127.0.0.1'),
        port: port.default(8080),
        path: z.string().startsWith('/', 'must start with /').default('/api/zaikorobot.php'),
        waitMs: duration('10s'),
        maxBytes: size('32MiB'),
        maxItems: z.number().int().positive().default(200_000),
        maxConnections: z.number().int().positive().default(256),
        maxConnectionsPerAddress: z.number().int().positive().default(16),
        maxInflightBytes: size('128MiB'),
        adminClients: z.array(cidr).default(['127.0.0.1/32', '::1/128']),
        trustedProxies: z.array(cidr).default([]),
        reportAsNg: z.array(z.enum(SKIP_REASONS)).default(['unknown_code', 'invalid_stock', 'variant_product']),
        lockout: z
          .strictObject({
            failures: z.number().int().positive().default(10),
            window: duration('15m'),
            duration: duration('15m'),
          })
          .prefault({}),
        dropDir: z.string().optional(),
      })
      .prefault({}),
    console: z
      .strictObject({
        host: z.string().default('127.0.0.1'),
        port: port.default(8081),
        users: z
          .array(
            z.strictObject({
              name: z.string().regex(/^[^\s:]{1,64}$/, 'must be 1-64 characters without spaces or colons'),
              password: z.string().refine(isScryptHash, 'must be a hash printed by `zaiko-bridge config hash-password`'),
            }),
          )
          .default([]),
        timeZone: z.string().default('Asia/Tokyo').refine(knownTimeZone, 'unknown time zone (use an IANA name such as Asia/Tokyo)'),
      })
      .prefault({}),
    retention: z
      .strictObject({
        uploadDays: z.number().positive().default(90),
        mailDays: z.number().positive().default(90),
        dropDays: z.number().positive().default(30),
      })
      .prefault({}),
    shops: z.array(shop).default([]),
  })
  .superRefine((cfg, ctx) => {
    if (cfg.redis.sentinels.length && cfg.redis.url) {
      ctx.addIssue({
        code: 'custom',
        path: ['redis', 'url'],
        message: 'must be empty when redis.sentinels is set (the sentinels name the master)',
      });
    }
    const seen = new Map<string, number>();
    cfg.shops.forEach((s, i) => {
      if (seen.has(s.id)) ctx.addIssue({ code: 'custom', path: ['shops', i, 'id'], message: `duplicate shop id ${s.id}` });
      seen.set(s.id, i);
    });
    const users = new Set<string>();
    cfg.shops.forEach((s, i) => {
      if (users.has(s.zaikoRobot.userId))
        ctx.addIssue({ code: 'custom', path: ['shops', i, 'zaikoRobot', 'userId'], message: `duplicate userId ${s.zaikoRobot.userId}` });
      users.add(s.zaikoRobot.userId);
    });
  });

export type Config = z.output<typeof configSchema>;
export type ShopConfig = Config['shops'][number];
