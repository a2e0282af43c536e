// Under `start`, a worker (the stock worker process, the relay's delivery thread) that dies is started
// again, like Postfix's master restarts a dead daemon: after a delay that doubles from 1 s to 30 s while
// it keeps dying, reset once it has run for a minute; each restart is logged and counted in
// zaiko_bridge_worker_restarts_total{worker}, and /readyz names the worker while it is down.
import { fork, type ChildProcess } from 'node:child_process';
import type { Logger } from '../observe/logger.js';
import type { Metrics } from '../observe/metrics.js';
import { RestartBackoff } from '../observe/restart-backoff.js';

/** What a supervised child sends on its IPC channel once it runs. */
export const READY_MESSAGE = { type: 'ready' } as const;

const STOP_BOUND_MS = 10_000;

/** A forked `zaiko-bridge <role>` process kept running by its parent. */
export class SupervisedProcess {
  private child?: ChildProcess;
  private up = false;
  private upSince = 0;
  private closing = false;
  private restartTimer?: NodeJS.Timeout;
  private readonly backoff = new RestartBackoff();

  /**
   * `hooks.onMessage`: the child's other IPC messages; `hooks.onExit`: forget what the dead child reported;
   * `hooks.nodeFlags`: node flags for the child on top of this process's own (--expose-gc...), which it inherits.
   */
  constructor(
    private readonly name: string,
    private readonly args: string[],
    private readonly env: NodeJS.ProcessEnv,
    private readonly log: Logger,
    private readonly metrics?: Metrics,
    private readonly hooks: { onMessage?: (m: any) => void; onExit?: () => void; nodeFlags?: string[] } = {},
  ) {}

  start(): void {
    // The child's flags: this process's own (--expose-gc...) and then its own, which win over the same ones inherited.
    const execArgv = [...process.execArgv, ...(this.hooks.nodeFlags ?? [])];
    const child = (this.child = fork(process.argv[1], this.args, {
      env: this.env,
      execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }));
    child.on('message', (m: { type?: string }) => {
      if (m?.type === READY_MESSAGE.type) {
        this.up = true;
        this.upSince = Date.now();
      } else this.hooks.onMessage?.(m);
    });
    child.once('exit', (code, signal) => {
      const upMs = this.up ? Date.now() - this.upSince : 0;
      this.up = false;
      this.hooks.onExit?.();
      if (this.closing) {
        this.log.info({ code, signal }, `${this.name} process exited`);
        return;
      }
      const delay = this.backoff.delay(upMs);
      this.log.error({ code, signal, pid: child.pid, restartInMs: delay }, `${this.name} process died; restarting in ${delay} ms`);
      this.restartTimer = setTimeout(() => {
        this.metrics?.workerRestarts.inc({ worker: this.name });
        this.start();
      }, delay);
    });
  }

  /** Passes a signal on to the running process (SIGHUP: reload); nothing while it is down or restarting. */
  signal(signal: NodeJS.Signals): void {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }

  /** For /readyz: undefined while the process runs. */
  problem(): string | undefined {
    return this.up ? undefined : `${this.name} worker not running`;
  }

  /** From now on a death is not restarted (called first in a shutdown: a Ctrl-C reaches the child too). */
  stopRestarting(): void {
    this.closing = true;
    clearTimeout(this.restartTimer);
  }

  async close(): Promise<void> {
    this.stopRestarting();
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), STOP_BOUND_MS);
    await gone;
    clearTimeout(t);
  }
}
