// `stock webhook status|retry`: the push of changes to the cart, from stock.db alone (works with Redis down).
import type { Command } from 'commander';
import { openDb } from '../db/open.js';
import { BridgeError } from '../errors/codes.js';
import { retryNow, webhookStatus } from '../queries/webhook.js';
import { context, pickShop, printJson, printTable } from './context.js';

const NONE = 'no shop has cart.webhook set';

export function registerWebhook(stock: Command): void {
  const webhook = stock.command('webhook').description('changes pushed to the cart (shops[].cart.webhook)');
  webhook
    .command('status')
    .description('per shop: delivered through which change id, pending changes, the last attempt and the next')
    .option('--json', 'JSON output')
    .action((o: { json?: boolean }, cmd: Command) => {
      const { config } = context(cmd);
      const db = openDb(config.dataDir, 'stock');
      const shops = webhookStatus(db, config);
      db.close();
      if (o.json) return printJson({ shops });
      printTable(
        ['shop', 'delivered', 'pending', 'last', 'last attempt', 'next attempt', 'url', 'last error'],
        shops.map((s) => [
          s.shop,
          s.deliveredThrough ?? 'not started',
          s.pending,
          s.lastStatus ?? (s.lastError ? 'no answer' : null),
          s.lastAttemptAt,
          s.nextAttemptAt,
          s.url,
          s.lastError,
        ]),
        NONE,
      );
    });
  webhook
    .command('retry')
    .description('send the batch waiting for its backoff now (the pusher takes it within a second)')
    .option('--shop <id>', 'only this shop')
    .action((o: { shop?: string }, cmd: Command) => {
      const { config } = context(cmd);
      if (o.shop && !pickShop(config.shops, o.shop).cart?.webhook) {
        throw new BridgeError('BAD_INPUT', `shop ${o.shop} has no cart.webhook`);
      }
      const db = openDb(config.dataDir, 'stock');
      const moved = retryNow(db, config, o.shop);
      db.close();
      if (!moved.length) throw new BridgeError('BAD_INPUT', NONE);
      for (const m of moved) process.stdout.write(`${m.shop}: ${m.moved ? 'next attempt now' : 'no batch waiting for a retry'}\n`);
    });
}
