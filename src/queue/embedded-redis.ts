// The private redis-server that `start` runs when redis.url is empty: a direct child on a unix
// socket in dataDir, AOF on, no eviction. A stale socket or an orphan left by a crash is cleaned first.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BridgeError } from '../errors/codes.js';
import { makePrivateDir } from '../security/file-modes.js';
import type { Logger } from '../observe/logger.js';
import { closeRedis, privateSocketPath } from './redis.js';
import { Redis } from 'ioredis';

const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function isRedisServer(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('redis-server');
  } catch {
    return false;
  }
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

async function pings(socket: string): Promise<boolean> {
  if (!existsSync(socket)) return false;
  const c = new Redis({ path: socket, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  c.on('error', () => {});
  try {
    await c.connect();
    return (await c.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    await closeRedis(c);
  }
}

/** What a Redis that holds jobs needs: AOF (fsynced every second), no RDB snapshots, no eviction. */
export const JOB_KEEPING_REDIS_ARGS = [
  '--save',
  '',
  '--appendonly',
  'yes',
  '--appendfsync',
  'everysec',
  '--maxmemory-policy',
  'noeviction',
];

export class EmbeddedRedis {
  private child?: ChildProcess;
  readonly socket: string;
  private readonly pidFile: string;

  constructor(
    private readonly dataDir: string,
    private readonly log: Logger,
  ) {
    this.socket = privateSocketPath(dataDir);
    this.pidFile = join(dataDir, 'redis.pid');
  }

  /** An orphan from a crashed `start` still holds our socket: stop it (it has our data, AOF is fsynced). */
  private async cleanStale(): Promise<void> {
    if (existsSync(this.pidFile)) {
      const pid = Number(readFileSync(this.pidFile, 'utf8').trim());
      if (pid > 0 && alive(pid) && isRedisServer(pid)) {
        this.log.warn({ pid }, 'stopping an orphaned private redis-server left by an earlier crash');
        process.kill(pid, 'SIGTERM');
        if (!(await waitFor(() => !alive(pid), STOP_TIMEOUT_MS))) process.kill(pid, 'SIGKILL');
      }
      rmSync(this.pidFile, { force: true });
    }
    if (existsSync(this.socket)) rmSync(this.socket, { force: true });
  }

  async start(): Promise<string> {
    const which = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
    if (which.error) {
      throw new BridgeError(
        'REDIS_MISSING_BINARY',
        'redis-server is not installed (needed when redis.url is empty): apt-get install -y redis-server',
      );
    }
    makePrivateDir(this.dataDir); // redis-server's AOF files follow the umask tightened at start
    await this.cleanStale();
    const args = [
      '--port',
      '0',
      '--unixsocket',
      this.socket,
      '--unixsocketperm',
      '600',
      '--dir',
      this.dataDir,
      '--pidfile',
      this.pidFile,
      '--daemonize',
      'no',
      ...JOB_KEEPING_REDIS_ARGS,
      '--loglevel',
      'warning',
      '--logfile',
      '',
    ];
    // Its own process group: Ctrl-C on `npm start` must not stop Redis before the roles that use it; we stop it last.
    const child = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    this.child = child;
    // However this process ends (the 15 s shutdown bound calls process.exit), Redis is told to stop
    // too: it shuts down cleanly on its own (AOF flushed) instead of living on as an orphan.
    const stopOnExit = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    };
    process.once('exit', stopOnExit);
    child.once('exit', () => process.removeListener('exit', stopOnExit));
    child.stderr?.on('data', (d) => this.log.warn({ redis: String(d).trim() }, 'redis-server'));
    let exited = false;
    child.on('exit', (code, signal) => {
      exited = true;
      this.log.info({ code, signal }, 'private redis-server exited');
    });
    const ready = await waitFor(async () => exited || (await pings(this.socket)), READY_TIMEOUT_MS);
    if (!ready || exited) {
      await this.stop();
      throw new BridgeError('REDIS_UNAVAILABLE', `private redis-server did not become ready on ${this.socket}`);
    }
    this.log.info({ socket: this.socket, pid: child.pid }, 'private redis-server ready');
    return `unix://${this.socket}`;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await gone;
    clearTimeout(timer);
    rmSync(this.socket, { force: true });
  }
}
