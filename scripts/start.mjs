// `npm start`: build when dist/ is older than src/, then run every role with the local config,
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
const config = existsSync('config/zaiko-bridge.yaml') ? 'config/zaiko-bridge.yaml' : 'config/example.yaml';
const child = spawn(process.execPath, ['dist/cli.js', 'start', '--config', config, ...process.argv.slice(2)], { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
