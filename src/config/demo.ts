// The console user of config/example.yaml, so that a fresh `npm start` shows the console. Its password
// is printed in the start log and written here: it must never be in a real config (config check warns).
import type { Config } from './schema.js';

export const DEMO_CONSOLE_USER = {
  name: 'demo',
  password: 'zaiko-demo',
  hash: 'scrypt$16384$8$1$BHxKynaQ6+M5Hzr20QyyZQ==$PVEcwwQ9e+l0EsElLD6l2lNruIuP0WuC727RK4I48jA=',
} as const;

/** Whether console.users holds the demo user (its name with the example's hash: the published password). */
export const hasDemoConsoleUser = (cfg: Config): boolean => cfg.console.users.some((u) => u.password === DEMO_CONSOLE_USER.hash);

/** console.host is a loopback address: the console can only be reached from this host. */
export const loopbackHost = (host: string): boolean => /^(127\.\d+\.\d+\.\d+|::1|localhost|::ffff:127\.\d+\.\d+\.\d+)$/i.test(host);
