// `db migrate`: apply pending migrations to ledger.db and stock.db.
import type { Command } from 'commander';
import { openDb, migrate } from '../db/open.js';
import { context } from './context.js';

export function registerDb(program: Command): void {
  program
    .command('db')
    .description('database maintenance')
    .command('migrate')
    .description('apply pending migrations to ledger.db and stock.db')
    .action((_o, cmd: Command) => {
      const { config } = context(cmd);
      for (const name of ['ledger', 'stock'] as const) {
        const db = openDb(config.dataDir, name, { readonly: true });
        const ran = migrate(db, name);
        process.stdout.write(`${name}.db: ${ran} migration(s) applied, schema version ${db.pragma('user_version', { simple: true })}\n`);
        db.close();
      }
    });
}
