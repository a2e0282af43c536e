// pino JSON logs to stderr (stdout belongs to command output); readable lines when stderr is a terminal.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, name = 'zaiko-bridge'): Logger {
  if (process.stderr.isTTY) {
    return pino({ level, name, transport: { target: 'pino-pretty', options: { destination: 2, translateTime: 'SYS:HH:MM:ss.l' } } });
  }
  return pino({ level, name }, pino.destination({ fd: 2, sync: true }));
}

/** A logger that prints nothing, for commands that only need a store. */
export const silentLogger: Logger = pino({ level: 'silent' });
