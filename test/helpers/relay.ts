// One relay per test: startRelay on a fresh temp dataDir with a fresh SMTP sink as its upstream, stopped
// and cleaned after the test. The set-up the relay test files share; call relayPerTest() at file level.
import { beforeEach, afterEach, inject } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { startRelay, type RunningRelay, type RelayOptions } from '../../src/roles/relay.js';
import { tempDir, testConfig, uniqueName, log } from './env.js';
import { startSink, type Sink } from './smtp.js';

export interface RelayTest {
  /** This test's dataDir (a temp dir). */
  dir: string;
  sink: Sink;
  relay?: RunningRelay;
  cfg?: Config;
  /** Starts the relay with testConfig + overrides (upstream: the sink); resolves to its SMTP port. */
  start(overrides?: Record<string, any>, opts?: { redisUrl?: string } & RelayOptions): Promise<number>;
}

export function relayPerTest(): RelayTest {
  let t: ReturnType<typeof tempDir>;
  const fx: RelayTest = {
    dir: '',
    sink: undefined as unknown as Sink,
    async start(overrides = {}, { redisUrl = inject('redisUrl'), ...opts } = {}) {
      fx.cfg = testConfig(fx.dir, { ...overrides, upstream: { port: fx.sink.port, ...overrides.upstream } });
      fx.relay = await startRelay(fx.cfg, redisUrl, log, { queueName: uniqueName('mail'), ...opts });
      return fx.relay.port!;
    },
  };
  beforeEach(async () => {
    t = tempDir();
    fx.dir = t.dir;
    fx.sink = await startSink();
  });
  afterEach(async () => {
    await fx.relay?.close();
    fx.relay = undefined;
    fx.cfg = undefined;
    await fx.sink.close();
    t.cleanup();
  });
  return fx;
}
