// One owner per part of the dataDir. Each long-running role locks the part it owns before it touches
// anything: the relay its spool and the ledger's recovery, the receiver the upload endpoint, the worker
// the drop folder (only when receiver.dropDir is set: apply jobs may run in several workers, each is one
// idempotent SQLite transaction), `start` its private Redis (and all the others). The lock is an SQLite file held in an
// open EXCLUSIVE transaction: SQLite takes it with fcntl() locks, which the kernel drops when the
// process dies, even by kill -9 (Node has no flock). A pid file, written once the lock is held, lets the
// loser name the owner. Operator commands take no lock: SQLite serialises their writes. The webhook part:
// the one worker that pushes changes to the cart (roles/webhook.ts).
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BridgeError } from '../errors/codes.js';

/** `stock-worker-<pid>`: a stock worker without the drop folder (several may share a dataDir), so `config reload` finds it. */
export type DataDirPart = 'relay' | 'receiver' | 'worker' | 'redis' | 'console' | 'webhook' | `stock-worker-${number}`;
const perProcess = (part: DataDirPart) => part.startsWith('stock-worker-');

interface Held {
  part: DataDirPart;
  db: Database.Database;
  pidPath: string;
}

function ownerPid(pidPath: string): string {
  try {
    return readFileSync(pidPath, 'utf8').trim() || 'unknown';
  } catch {
    return 'unknown'; // between the winner's lock and its pid file, or a pid file removed by hand
  }
}

function lockPart(dir: string, dataDir: string, part: DataDirPart): Held {
  const pidPath = join(dir, `${part}.pid`);
  let db: Database.Database | undefined;
  try {
    db = new Database(join(dir, `${part}.lock`), { timeout: 0 });
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE'); // never committed: the lock lives as long as this connection
    db.exec('CREATE TABLE IF NOT EXISTS owner (pid INTEGER)');
  } catch (err) {
    db?.close();
    if ((err as { code?: string }).code === 'SQLITE_BUSY') {
      throw new BridgeError('DATA_DIR_IN_USE', `dataDir ${dataDir} is in use by pid ${ownerPid(pidPath)} (it holds the ${part} part)`);
    }
    throw new BridgeError('SQLITE_UNAVAILABLE', `cannot lock ${join(dir, `${part}.lock`)}: ${(err as Error).message}`, { cause: err });
  }
  const tmp = `${pidPath}.${process.pid}.tmp`;
  writeFileSync(tmp, `${process.pid}\n`);
  renameSync(tmp, pidPath); // the loser reads a whole pid or the previous owner's, never half of one
  return { part, db, pidPath };
}

export class DataDirLock {
  private constructor(private held: Held[]) {}

  /** Locks every part or none; a part held by another process (or connection): BridgeError DATA_DIR_IN_USE. */
  static take(dataDir: string, parts: DataDirPart[]): DataDirLock {
    const dir = join(dataDir, 'locks');
    mkdirSync(dir, { recursive: true });
    const held: Held[] = [];
    try {
      for (const part of parts) held.push(lockPart(dir, dataDir, part));
    } catch (err) {
      new DataDirLock(held).release();
      throw err;
    }
    return new DataDirLock(held);
  }

  release(): void {
    for (const h of this.held) {
      rmSync(h.pidPath, { force: true });
      h.db.close();
      if (perProcess(h.part)) rmSync(h.pidPath.replace(/\.pid$/, '.lock'), { force: true }); // one per process: not kept
    }
    this.held = [];
  }
}

/** Whether another process holds this lock file now: a read finds it busy. It does not take the lock. */
function held(lockPath: string): boolean {
  let db: Database.Database | undefined;
  try {
    db = new Database(lockPath, { timeout: 0, fileMustExist: true });
    db.prepare('SELECT count(*) FROM sqlite_master').get(); // a shared lock for a moment: refused while an owner holds it
    return false;
  } catch (err) {
    return (err as { code?: string }).code === 'SQLITE_BUSY';
  } finally {
    db?.close();
  }
}

/**
 * The processes running a role on this dataDir now, by pid, with the parts each holds (`start` holds
 * relay, receiver and redis). A pid file counts only while its lock is held, so a stale file left by a
 * crash never names a pid that may since belong to another program.
 */
export function runningRoles(dataDir: string): Map<number, DataDirPart[]> {
  const dir = join(dataDir, 'locks');
  const found = new Map<number, DataDirPart[]>();
  if (!existsSync(dir)) return found;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.lock'))) {
    const part = file.slice(0, -'.lock'.length) as DataDirPart;
    if (!held(join(dir, file))) continue;
    const pid = Number(ownerPid(join(dir, `${part}.pid`)));
    if (Number.isInteger(pid) && pid > 0) found.set(pid, [...(found.get(pid) ?? []), part]);
  }
  return found;
}
