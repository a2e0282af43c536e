// The systemd units: `systemd-analyze verify` accepts them, and each role is hardened the same way.
import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { requireTool } from '../helpers/processes.js';
import { STOCK_WORKER_NODE_FLAGS, RELAY_NODE_FLAGS, RELAY_NODE_ENV } from '../../src/roles/node-flags.js';

const DIR = join(import.meta.dirname, '..', '..', 'systemd');
const units = readdirSync(DIR).filter((u) => /\.(service|target)$/.test(u));
const services = units.filter((u) => u.endsWith('.service'));

describe('systemd units', () => {
  it('has one service per role and a target', () => {
    expect(services.sort()).toEqual([
      'zaiko-bridge-console.service',
      'zaiko-bridge-receiver.service',
      'zaiko-bridge-relay.service',
      'zaiko-bridge-worker.service',
    ]);
    expect(units).toContain('zaiko-bridge.target');
  });

  it('passes systemd-analyze verify', () => {
    const r = spawnSync(requireTool('systemd-analyze'), ['verify', ...units.map((u) => join(DIR, u))], { encoding: 'utf8' });
    expect(r.error).toBeUndefined();
    expect(r.stderr.trim()).toBe('');
    expect(r.status).toBe(0);
  });

  it.each(services)('%s is hardened, restarts on failure, and waits longer than the 15 s shutdown bound', (unit) => {
    const text = readFileSync(join(DIR, unit), 'utf8');
    for (const line of [
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'ProtectHome=yes',
      'PrivateTmp=yes',
      'PrivateDevices=yes',
      'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6',
      'CapabilityBoundingSet=',
      'SystemCallFilter=@system-service',
      'Restart=on-failure',
      'StateDirectory=zaiko-bridge',
      'ConfigurationDirectory=zaiko-bridge',
      'User=zaiko-bridge',
      'After=network-online.target redis-server.service',
      'Wants=network-online.target redis-server.service',
    ]) {
      expect(text.split('\n')).toContain(line);
    }
    const stop = Number(/^TimeoutStopSec=(\d+)s$/m.exec(text)?.[1]);
    expect(stop).toBeGreaterThan(15);
    const role = unit.replace('zaiko-bridge-', '').replace('.service', '');
    // Node's flags (src/roles/node-flags.ts): the relay's as `npm start` and the bin pass them, the
    // worker's (`start`'s stock thread gets the same young generation through its resourceLimits).
    const flags = role === 'relay' ? `${RELAY_NODE_FLAGS.join(' ')} ` : role === 'worker' ? `${STOCK_WORKER_NODE_FLAGS.join(' ')} ` : '';
    expect(text).toMatch(new RegExp(`^ExecStart=/usr/bin/env \\$\\{NODE\\} ${flags}\\$\\{ZAIKO_BRIDGE_HOME\\}/dist/cli.js ${role}$`, 'm'));
    // An invalid config (exit 78) is not restarted in a loop.
    expect(text.split('\n')).toContain('RestartPreventExitStatus=78');
    // systemctl reload: SIGHUP to the role's node process (ExecStart's env execs node, so it is MAINPID).
    expect(text.split('\n')).toContain('ExecReload=/bin/kill -HUP $MAINPID');
  });

  it('gives the bin and npm start the same node flags as the relay unit', () => {
    const root = join(import.meta.dirname, '..', '..');
    const shebang = readFileSync(join(root, 'src', 'cli.ts'), 'utf8').split('\n')[0];
    const env = Object.entries(RELAY_NODE_ENV).map(([k, v]) => `${k}=${v}`);
    expect(shebang).toBe(`#!/usr/bin/env -S ${env.join(' ')} node ${RELAY_NODE_FLAGS.join(' ')}`);
    for (const unit of ['receiver', 'worker'])
      expect(readFileSync(join(DIR, `zaiko-bridge-${unit}.service`), 'utf8').split('\n')).toEqual(
        expect.arrayContaining(env.map((e) => `Environment=${e}`)),
      );
    expect(readFileSync(join(root, 'scripts', 'start.mjs'), 'utf8')).toMatch(
      /spawn\(process\.execPath, \[\.\.\.RELAY_NODE_FLAGS, 'dist\/cli\.js', 'start'/,
    );
  });

  it('names node and the install folder in one drop-in for every unit', () => {
    const conf = readFileSync(join(DIR, 'zaiko-bridge-.service.d', 'install.conf'), 'utf8').split('\n');
    expect(conf).toEqual(
      expect.arrayContaining(['[Service]', 'Environment=NODE=/usr/bin/node', 'Environment=ZAIKO_BRIDGE_HOME=/opt/zaiko-bridge']),
    );
    for (const unit of services) expect(readFileSync(join(DIR, unit), 'utf8')).not.toMatch(/^ExecStart=.*\/(usr\/bin\/node|opt)/m);
  });
});
