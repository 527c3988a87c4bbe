import pino, { type Logger } from 'pino';
import type { LogConfig } from '../config/types.ts';

export type { Logger } from 'pino';

/**
 * The gateway's logger: NDJSON through an asynchronous destination, so a slow disk or
 * pipe never blocks the request path. `flush()` before exit keeps the last lines.
 */
export function createLogger(config: LogConfig, gatewayName: string): Logger {
  const fd = config.destination === 'stdout' ? 1 : config.destination === 'stderr' ? 2 : undefined;
  const destination = pino.destination({
    dest: fd ?? config.destination,
    sync: false,
    mkdir: fd === undefined,
  });
  return pino(
    {
      level: config.level,
      base: { gateway: gatewayName },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
