import pino from 'pino';
import type { LogConfig } from '../../core/config/types.ts';
import { strictJson } from '../../core/printable.ts';
import { GATEWAY_NAME, type GatewayName } from './gateway-name.ts';
import type { LineBatch } from './line-batch.ts';
import { openLogWriter } from './log-writers.ts';

/** Where a logger's lines go: the access log writes its own lines there too (access-log.ts). */
export interface LineSink {
  write(line: string): unknown;
  /**
   * A sink that keeps its lines as bytes (a LineWriter) lends its batch, so that the access line
   * is built in it in place; closeLine() queues that line. A sink without them takes strings.
   */
  openLine?(): LineBatch;
  closeLine?(): boolean;
  /** Lines dropped so far (a LineWriter counts them; a test's capture drops none). */
  readonly linesDropped?: number;
}

/** The key of a logger's sink: Candor's own symbol, set by the functions below. */
export const LINE_SINK: unique symbol = Symbol('candor.lineSink');

/** The gateway's logger: pino for its event lines, and the sink those lines and the access log's go to. */
export type Logger = pino.Logger & {
  readonly [LINE_SINK]: LineSink;
  readonly [GATEWAY_NAME]?: { name: string };
};

/**
 * The gateway's logger: NDJSON through a batching writer on the config's destination
 * (log-writers.ts). `flush()` before exit keeps the last lines.
 */
export function createLogger(config: LogConfig, gatewayName: string): Logger {
  // One box for the logger's lines and the writer's own (renameGateway renames both).
  const gateway = { name: gatewayName };
  return createLoggerOn(openLogWriter(config.destination, gateway), config.level, gateway);
}

/**
 * A logger writing NDJSON lines to `sink` (a LineWriter, or a test's capture): every line
 * carries the level's name, an ISO time and the gateway's name (`gatewayName`: a box shared with
 * the sink, or the name to put in one of the logger's own).
 */
export function createLoggerOn(
  sink: LineSink,
  level: LogConfig['level'],
  gatewayName: string | GatewayName,
): Logger {
  const gateway = typeof gatewayName === 'string' ? { name: gatewayName } : gatewayName;
  const logger = pino(
    {
      level,
      // Read at each line (pino's bindings are fixed once made): written where `base` put it.
      base: undefined,
      mixin: () => ({ gateway: gateway.name }),
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    // An event line quotes what a peer chose (a TLS client's SNI name, an admin request's Host,
    // read as Latin-1: the byte 0x9b is C1's CSI), and JSON.stringify leaves C1, DEL, bidi
    // overrides and U+2028 raw: written as \u escapes, as the access line writes them, the same
    // JSON value, the line safe to `tail` in a terminal. flush() is the sink's (logger.flush).
    printableLines(sink),
  );
  return Object.assign(logger, { [LINE_SINK]: sink, [GATEWAY_NAME]: gateway });
}

/** `sink` with each line through strictJson, and its flush() (pino's logger.flush calls it). */
function printableLines(sink: LineSink): pino.DestinationStream {
  const flushable = sink as LineSink & { flush?(callback: (err?: Error) => void): void };
  return Object.assign(
    { write: (line: string) => sink.write(strictJson(line)) },
    {
      flush: (callback: (err?: Error) => void) => {
        if (typeof flushable.flush === 'function') flushable.flush(callback);
        else callback();
      },
    },
  );
}

/**
 * What the access line reads of its logger every request: its sink and which levels it writes.
 * A pino logger and its prototypes are dictionary-mode objects, so each read of them in
 * optimized code is a call into V8's LoadIC (isLevelEnabled alone makes five, and the sink's
 * symbol a sixth: issue 61). Read once a logger, and again when its level changes.
 */
export class LoggerView {
  readonly sink: LineSink;
  /** The gateway's name in the lines, a box a reload renames (renameGateway). */
  readonly gateway: { name: string } | undefined;
  info = false;
  warn = false;
  error = false;

  constructor(logger: Logger) {
    this.sink = logger[LINE_SINK];
    this.gateway = logger[GATEWAY_NAME];
    this.#read(logger);
    // (A child logger's listeners may be its parent's: a view read again for nothing is still right.)
    logger.on('level-change', () => this.#read(logger));
  }

  #read(logger: Logger): void {
    this.info = logger.isLevelEnabled('info');
    this.warn = logger.isLevelEnabled('warn');
    this.error = logger.isLevelEnabled('error');
  }
}

const views = new WeakMap<Logger, LoggerView>();
let lastLogger: Logger | undefined;
let lastView: LoggerView | undefined;

/** `logger`'s view, the last one's without a lookup (a worker logs through one logger). */
export function viewOf(logger: Logger): LoggerView {
  if (logger === lastLogger) return lastView as LoggerView;
  let view = views.get(logger);
  if (view === undefined) {
    view = new LoggerView(logger);
    views.set(logger, view);
  }
  lastLogger = logger;
  lastView = view;
  return view;
}
