// `stock import|export|show|skipped|apply-file` and `uploads list|show`: the why-not-synced tools.
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { openDb } from '../db/open.js';
import { BridgeError } from '../errors/codes.js';
import { parseCatalog, importCatalog, exportCatalog, CatalogError } from '../stock/catalog.js';
import { encode, CsvError } from '../stock/csv.js';
import { CharsetError } from '../stock/receive/charset.js';
import { UploadStore } from '../stock/store.js';
import { listUploads, uploadView, stockView, listSkips } from '../queries/uploads.js';
import { takeStockFile, StockFileError } from '../stock/files/stock-file.js';
import { StockFileStore, type OpenFile } from '../stock/files/file-store.js';
import { STOCK_QUEUE } from '../queue/names.js';
import { SKIP_REASONS } from '../errors/skip-reasons.js';
import { ChangeFeed, FEED_LIMIT_DEFAULT, FEED_LIMIT_MAX } from '../stock/changes/feed.js';
import { context, pickShop, printJson, printTable, pageOptions, morePages, iso } from './context.js';
import { oneOf, since, wholeNumber } from './options.js';
import { registerWebhook } from './stock-webhook.js';

const ENCODINGS = ['utf-8', 'shift_jis'] as const;
/** apply-file with Redis down answers within about a second (the upload is stored either way). */
const REDIS_CONNECT_BOUND_MS = 500;
const encodingOption = oneOf('--encoding', ENCODINGS, {
  utf8: 'utf-8',
  'utf-8': 'utf-8',
  'shift-jis': 'shift_jis',
  shift_jis: 'shift_jis',
  sjis: 'shift_jis',
  cp932: 'shift_jis',
  'windows-31j': 'shift_jis',
});

/** "line 3: problem" from the CSV readers becomes "file:3: problem", the way compilers and grep name a place. */
function atLine(file: string, err: Error): string {
  const m = /^line (\d+): (.*)$/s.exec(err.message);
  return m ? `${file}:${m[1]}: ${m[2]}` : `${file}: ${err.message}`;
}

function readInput(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new BridgeError(
      'BAD_INPUT',
      `${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
    );
  }
}

/** The head of `stock show`: a product, a variant and its product, or a product and its variants. */
function describeProduct(v: NonNullable<ReturnType<typeof stockView>>): string {
  const stock = v.unlimited ? 'unlimited (not synced)' : v.stock;
  if (v.stock_code !== null)
    return `${v.stock_code}  ${v.name}\nvariant (在庫管理コード) of ${v.product_code}  ${v.productName}\nstock: ${stock}\n`;
  if (v.variants.length === 0)
    return `${v.product_code}  ${v.name}\nstock: ${stock}${v.uses_stock_management_code ? '  uses 在庫管理コード (not synced)' : ''}\n`;
  const lines = v.variants.map((x) => `  ${x.stock_code}  ${x.unlimited ? 'unlimited (not synced)' : x.stock}  ${x.name}\n`);
  return (
    `${v.product_code}  ${v.name}\nstock kept per variant (在庫管理コード); zaiko Robot sends their codes, ` +
    `this one is skipped as variant_product\nvariants:\n${lines.join('')}`
  );
}

/** An upload skip's value as sent; an order mail skip's quantity sold. */
const skipValue = (s: { rawStock: string | null; quantity: number | null }) =>
  s.rawStock !== null ? JSON.stringify(s.rawStock) : `sold ${s.quantity}`;

export function registerStock(program: Command): void {
  const stock = program.command('stock').description('products and their stock (works with Redis down)');

  stock
    .command('import')
    .description('load the catalog CSV (product_code,name,stock,unlimited,uses_stock_management_code[,stock_code]); all rows or none')
    .option('--shop <id>', 'shop id (may be left out with one shop)')
    .option('--encoding <enc>', 'utf-8 or shift_jis (default: detected)', encodingOption)
    .argument('<file>', 'CSV file')
    .action((file: string, o: { shop?: string; encoding?: string }, cmd: Command) => {
      const { config } = context(cmd);
      const shop = pickShop(config.shops, o.shop);
      // A file that does not parse, or rows that do not fit what stock.db keeps: nothing imported.
      const refused = (err: unknown) => {
        if (err instanceof CharsetError)
          return new BridgeError('BAD_INPUT', `${file}: not ${o.encoding} text (${err.message}); nothing imported`);
        if (err instanceof CatalogError || err instanceof CsvError)
          return new BridgeError('BAD_INPUT', `${atLine(file, err)}; nothing imported`);
        return err;
      };
      let rows;
      try {
        rows = parseCatalog(readInput(file), o.encoding);
      } catch (err) {
        throw refused(err);
      }
      const db = openDb(config.dataDir, 'stock');
      const tty = process.stderr.isTTY;
      let n;
      try {
        n = importCatalog(db, shop.id, rows, tty ? (done) => process.stderr.write(`\r${done}/${rows.length} rows`) : undefined);
      } catch (err) {
        throw refused(err);
      } finally {
        if (tty) process.stderr.write('\r');
        db.close();
      }
      process.stdout.write(`${n} products imported into shop ${shop.id}\n`);
    });

  stock
    .command('export')
    .description('print the catalog as CSV on stdout, and on stderr `# next=<id>`: the change cursor it is current to')
    .option('--shop <id>', 'shop id')
    .option('--encoding <enc>', 'utf-8 (default) or shift_jis', encodingOption, 'utf-8')
    .option(
      '--changed-after <id>',
      'only products with a change after this cursor (a `# next=` or a feed `next`)',
      wholeNumber('--changed-after', 0),
    )
    .action((o: { shop?: string; encoding: string; changedAfter?: number }, cmd: Command) => {
      const { config } = context(cmd);
      const shop = pickShop(config.shops, o.shop);
      const db = openDb(config.dataDir, 'stock');
      try {
        const feed = new ChangeFeed(db);
        if (o.changedAfter !== undefined && o.changedAfter < feed.prunedThrough(shop.id))
          throw new BridgeError(
            'BAD_INPUT',
            `--changed-after ${o.changedAfter}: changes after it were removed by retention (oldest kept: ${feed.oldest(shop.id)}); ` +
              'load the full export instead',
          );
        const next = feed.cursorNow(shop.id); // before reading: a change made meanwhile comes again next time
        const sjis = o.encoding === 'shift_jis';
        for (const line of exportCatalog(db, shop.id, o.changedAfter)) process.stdout.write(sjis ? encode(line, 'shift_jis') : line);
        process.stderr.write(`# next=${next}\n`);
      } finally {
        db.close();
      }
    });

  stock
    .command('changes')
    .description("the shop's stock changes after a cursor, oldest first (what the cart's feed gets)")
    .option('--shop <id>', 'shop id')
    .option('--after <id>', 'cursor: the `next` of the previous page, or `# next=` of an export', wholeNumber('--after', 0), 0)
    .option('--limit <n>', `at most n changes (up to ${FEED_LIMIT_MAX})`, wholeNumber('--limit', 1, FEED_LIMIT_MAX), FEED_LIMIT_DEFAULT)
    .option('--json', "JSON output (the feed's document)")
    .action((o: { shop?: string; after: number; limit: number; json?: boolean }, cmd: Command) => {
      const { config } = context(cmd);
      const shop = pickShop(config.shops, o.shop);
      const db = openDb(config.dataDir, 'stock');
      const page = new ChangeFeed(db).page(shop.id, o.after, o.limit);
      db.close();
      if ('expired' in page) {
        if (o.json) printJson({ error: 'cursor_expired', oldest: page.oldest });
        throw new BridgeError(
          'NOT_FOUND',
          `cursor_expired: changes after ${o.after} were removed by retention; ` +
            `the oldest kept is ${page.oldest} (reload with stock export)`,
        );
      }
      if (o.json) return printJson(page);
      printTable(
        ['id', 'code', 'previous', 'stock', 'source', 'upload/order', 'at'],
        page.changes.map((c) => [c.id, c.code, c.previous, c.stock, c.source, c.uploadId ?? c.orderNumber, c.at]),
        'no changes',
      );
      process.stdout.write(`next=${page.next}${page.more ? ' (more: run again with --after ' + page.next + ')' : ''}\n`);
    });

  pageOptions(stock.command('show').description('a product, its last changes and skips: why is it (not) in sync?'), 20)
    .option('--shop <id>', 'shop id')
    .option('--json', 'JSON output')
    .argument('<code>', 'product code')
    .action((code: string, o: { shop?: string; json?: boolean; limit: number; offset: number }, cmd: Command) => {
      const { config } = context(cmd);
      const shop = pickShop(config.shops, o.shop);
      const db = openDb(config.dataDir, 'stock');
      const view = stockView(db, shop.id, code, { limit: o.limit, offset: o.offset });
      db.close();
      if (!view)
        throw new BridgeError(
          'NOT_FOUND',
          `no product ${code} in shop ${shop.id} (zaiko Robot's uploads of it are skipped as unknown_code)`,
        );
      if (o.json) return printJson(view);
      process.stdout.write(
        `${describeProduct(view)}last upload: ${view.lastUploadId || '-'}  updated: ${iso(view.updatedAt)}\n\nchanges:\n`,
      );
      printTable(
        ['id', 'source', 'upload/order', 'old', 'new', 'at'],
        view.changes.map((c) => [c.id, c.source, c.uploadId ?? c.orderNumber, c.oldStock, c.newStock, iso(c.changedAt)]),
        'no changes',
      );
      process.stdout.write('\nskips:\n');
      printTable(
        ['upload/order', 'reason', 'value', 'at'],
        view.skips.map((s) => [s.uploadId ?? `order ${s.orderNumber}`, s.reason, skipValue(s), iso(s.receivedAt)]),
        'no skips',
      );
    });

  pageOptions(stock.command('skipped').description('items of uploads and order mails that were not applied, newest first'), 100)
    .option('--shop <id>', 'shop id')
    .option('--reason <reason>', `only this reason: ${SKIP_REASONS.join(', ')}`, oneOf('--reason', SKIP_REASONS))
    .option('--since <when>', 'a date or an age (7d)', since())
    .option('--json', 'JSON output')
    .action((o: { shop?: string; reason?: string; since?: number; limit: number; offset: number; json?: boolean }, cmd: Command) => {
      const { config } = context(cmd);
      if (o.shop) pickShop(config.shops, o.shop);
      const db = openDb(config.dataDir, 'stock');
      const skips = listSkips(new UploadStore(db), { shop: o.shop, reason: o.reason, since: o.since, limit: o.limit, offset: o.offset });
      db.close();
      if (o.json) return printJson({ skips });
      printTable(
        ['upload/order', 'shop', 'code', 'reason', 'value', 'received'],
        skips.map((s) => [s.uploadId ?? `order ${s.orderNumber}`, s.shop, s.product_code, s.reason, skipValue(s), s.receivedAt]),
        'no skipped items',
      );
      morePages(skips.length, o);
    });

  stock
    .command('apply-file')
    .description('apply a stock file (product_code,stock) through the queue, as an upload')
    .option('--shop <id>', 'shop id')
    .option('--wait <seconds>', 'how long to wait for the worker', wholeNumber('--wait', 0), 60)
    .argument('<file>', 'CSV file')
    .action(async (file: string, o: { shop?: string; wait: number }, cmd: Command) => {
      const { config } = context(cmd);
      const shop = pickShop(config.shops, o.shop);
      const db = openDb(config.dataDir, 'stock');
      const store = new UploadStore(db);
      const files = new StockFileStore(store);
      let taken: OpenFile & { again: boolean };
      try {
        // Run again before its result was reported (a crash, the wait ran out), the file is its first upload.
        taken = takeStockFile(files, shop.id, 'cli', basename(file), readInput(file));
      } catch (err) {
        if (err instanceof StockFileError || err instanceof CsvError) {
          throw new BridgeError('BAD_INPUT', `${atLine(file, err)}; nothing stored`);
        }
        throw err;
      }
      const id = taken.uploadId;
      if (taken.again) process.stderr.write(`${file}: already stored as upload ${id} (not yet reported); not stored again\n`);
      // ioredis, then BullMQ, are loaded by this command only: the other stock commands read SQLite alone.
      const { closeQueue, closeRedis, connectOrFail, describeRedis, redisSpec } = await import('../queue/redis.js');
      const spec = redisSpec(config);
      const stored = `stored as upload ${id}, but Redis at ${describeRedis(spec)} is unreachable: the worker applies it once Redis is back`;
      // The upload is durable already: with Redis down, say so at once instead of waiting out an add.
      const redis =
        store.get(id)?.status === 'applied'
          ? undefined
          : await connectOrFail(spec, REDIS_CONNECT_BOUND_MS).catch(() => {
              db.close();
              throw new BridgeError('REDIS_UNAVAILABLE', stored);
            });
      const [{ Queue }, { enqueueApply, waitApplied }] = await Promise.all([import('bullmq'), import('../stock/apply/enqueue.js')]);
      const queue = redis && new Queue(STOCK_QUEUE, { connection: redis, prefix: config.redis.prefix });
      queue?.on('error', () => {});
      try {
        if (queue && !(await enqueueApply(queue, id, 3000))) throw new BridgeError('REDIS_UNAVAILABLE', stored);
        if (!(await waitApplied(store, id, o.wait * 1000, 50))) {
          process.stdout.write(`upload ${id}: queued; no worker applied it within ${o.wait}s (is the worker running?)\n`);
          return;
        }
        const u = store.get(id)!;
        process.stdout.write(`upload ${id}: applied ${u.applied_count}, skipped ${u.skipped_count}\n`);
        for (const s of store.reportedSkips(id, SKIP_REASONS)) {
          process.stdout.write(`${s.reason}(product_code=${s.code})\n`);
        }
        files.finish(taken.id);
      } finally {
        if (queue) await closeQueue(queue);
        if (redis) await closeRedis(redis);
        db.close();
      }
    });

  registerWebhook(stock);

  const uploads = program.command('uploads').description('zaiko Robot uploads received');
  pageOptions(uploads.command('list').description('newest first'), 50)
    .option('--shop <id>', 'shop id')
    .option('--json', 'JSON output')
    .action((o: { shop?: string; limit: number; offset: number; json?: boolean }, cmd: Command) => {
      const { config } = context(cmd);
      if (o.shop) pickShop(config.shops, o.shop);
      const db = openDb(config.dataDir, 'stock');
      const list = listUploads(new UploadStore(db), { shop: o.shop, limit: o.limit, offset: o.offset });
      db.close();
      if (o.json) return printJson({ uploads: list });
      printTable(
        ['id', 'shop', 'received', 'items', 'applied', 'skipped', 'status'],
        list.map((u) => [u.id, u.shop, u.receivedAt, u.items, u.applied, u.skipped, u.status]),
        'no uploads',
      );
      morePages(list.length, o);
    });
  pageOptions(uploads.command('show').description('one upload and what each item did (--limit/--offset page through its items)'), 1_000_000)
    .argument('<id>', 'upload id')
    .option('--json', 'JSON output')
    .action((idText: string, o: { json?: boolean; limit: number; offset: number }, cmd: Command) => {
      const id = wholeNumber('<id>', 1)(idText);
      const { config } = context(cmd);
      const db = openDb(config.dataDir, 'stock');
      const view = uploadView(new UploadStore(db), id, { limit: o.limit, offset: o.offset });
      db.close();
      if (!view) throw new BridgeError('NOT_FOUND', `no upload ${idText}`);
      if (o.json) return printJson(view);
      const { upload: j, items } = view;
      process.stdout.write(
        `upload ${j.id}  shop ${j.shop}  ${j.source} ${j.origin ?? ''}  ${j.charset}\n` +
          `received ${j.receivedAt}  status ${j.status}  items ${j.items}  applied ${j.applied}  skipped ${j.skipped}\n\n`,
      );
      printTable(
        ['#', 'code', 'value', 'outcome', 'reason'],
        items.map((i) => [i.seq, i.product_code, JSON.stringify(i.rawStock), i.outcome, i.reason]),
        'no items',
      );
    });
}
