// `npm start`: build when dist/ is older than src/, then run every role with $ZAIKO_BRIDGE_CONFIG or the local config,
// falling back to the example (a working demo that writes deliveries to an outbox folder).
import { existsSync, statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync, spawn } from 'node:child_process';

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}
if (!existsSync('dist/cli.js') || newest('src') > statSync('dist/cli.js').mtimeMs) {
  const r = spawnSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
// $ZAIKO_BRIDGE_CONFIG wins, as for every other command; the CLI reads it itself.
const configArgs = process.env.ZAIKO_BRIDGE_CONFIG
  ? []
  : ['--config', existsSync('config/zaiko-bridge.yaml') ? 'config/zaiko-bridge.yaml' : 'config/example.yaml'];
// The IPC channel is how the app notices this process is gone ('disconnect'), however it ends.
// Node's flags for the processes that take mail: src/roles/node-flags.ts.
const { RELAY_NODE_FLAGS, RELAY_NODE_ENV } = await import('../dist/roles/node-flags.js');
const child = spawn(process.execPath, [...RELAY_NODE_FLAGS, 'dist/cli.js', 'start', ...configArgs, ...process.argv.slice(2)], {
  env: { ...RELAY_NODE_ENV, ...process.env },
  stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
});
let stopping = false;
const stop = (signal) => {
  if (!stopping) child.kill(signal);
  stopping = true;
};
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => stop(sig === 'SIGHUP' ? 'SIGTERM' : sig));
// `npm start` runs us under `sh -c`: a signal to npm's pid may end npm and sh without reaching us.
// When our parent goes (we are re-parented), stop as if told to.
const parent = process.ppid;
const watch = setInterval(() => {
  if (process.ppid !== parent) stop('SIGTERM');
}, 500);
child.on('exit', (code, signal) => {
  clearInterval(watch);
  process.exit(code ?? (signal ? 1 : 0));
});
