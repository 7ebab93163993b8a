import pino, { type Logger } from 'pino';

/** JSON logs on stdout (or a file descriptor); one instance per process, children per stage. */
export function createLogger(level: string, destination: number | string = 1): Logger {
  return pino({ level, base: { app: 'himari-l0', pid: process.pid } }, pino.destination({ dest: destination, sync: false }));
}
