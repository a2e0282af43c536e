// Opens the two SQLite files (ledger.db: mail; stock.db: products and uploads) and applies their
// numbered migrations, so every command that opens a database finds the schema it expects.
import Database from 'better-sqlite3';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BridgeError } from '../errors/codes.js';
import { createPrivateFile, makePrivateDir } from '../security/file-modes.js';

export type DB = Database.Database;
export type DbName = 'ledger' | 'stock';

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));
const BUSY_TIMEOUT_MS = 5000;

/** Applies the migrations not yet recorded in user_version; returns how many ran. */
export function migrate(db: DB, name: DbName): number {
  const dir = join(MIGRATIONS_DIR, name);
  const files = readdirSync(dir)
    .filter((f) => /^\d+_.*\.sql$/.test(f))
    .sort();
  const applied = () => db.pragma('user_version', { simple: true }) as number;
  let ran = 0;
  for (const file of files) {
    const version = parseInt(file, 10);
    if (version <= applied()) continue;
    const sql = readFileSync(join(dir, file), 'utf8');
    // Read again under the write lock: roles started together (systemd starts the receiver and the
    // workers at once) each saw the old version, and the second one ran the migration again and died.
    const ranIt = db
      .transaction(() => {
        if (version <= applied()) return false;
        db.exec(sql);
        db.pragma(`user_version = ${version}`);
        return true;
      })
      .immediate();
    if (ranIt) ran++;
  }
  return ran;
}

/**
 * `synchronous`: FULL by default for both files: a ledger commit is a 250, a stock.db commit an upload
 * answered OK (or a drop-folder file about to be moved), so each must be on disk before we say so (WAL
 * mode: the WAL is fsynced at every commit). A NORMAL ledger connection (delivery outcomes) survives a
 * process crash; after power loss its last commits may be lost, which only means a delivery is repeated.
 */
export function openDb(dataDir: string, name: DbName, options: { readonly?: boolean; synchronous?: 'FULL' | 'NORMAL' } = {}): DB {
  try {
    makePrivateDir(dataDir);
    if (!options.readonly) createPrivateFile(join(dataDir, `${name}.db`));
    const db = new Database(join(dataDir, `${name}.db`));
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma('foreign_keys = ON');
    // 64 MiB of page cache (default 2 MiB): a 100,000-item apply touches more pages than that.
    db.pragma('cache_size = -65536');
    db.pragma('temp_store = MEMORY');
    if (!options.readonly) migrate(db, name);
    return db;
  } catch (err) {
    throw new BridgeError('SQLITE_UNAVAILABLE', `cannot open ${join(dataDir, `${name}.db`)}: ${(err as Error).message}`, { cause: err });
  }
}

/** A per-store cache of prepared statements: preparing costs more than running these small statements. */
export function statementCache(db: DB): (sql: string) => Database.Statement {
  const cache = new Map<string, Database.Statement>();
  return (sql) => {
    let st = cache.get(sql);
    if (!st) cache.set(sql, (st = db.prepare(sql)));
    return st;
  };
}
