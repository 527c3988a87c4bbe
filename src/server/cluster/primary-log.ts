import type { LogConfig } from '../../core/config/types.ts';
import { strictJson } from '../../core/printable.ts';
import { GATEWAY_NAME, type GatewayName } from '../../observe/log/gateway-name.ts';
import { openLogWriter } from '../../observe/log/log-writers.ts';
import type { Logger } from '../../observe/log/logger.ts';

/**
 * The cluster primary's event lines, written as pino writes the workers' (logger.ts), byte for
 * byte (test/server/cli/primary-log.test.ts), without pino. pino and what it loads (its
 * CommonJS modules and Node's loader for them, worker_threads for its transports, assert, the
 * ICU data its start touches) are about 2.6 MiB of a primary that writes a few lines a day; a
 * worker writes one a request and keeps pino.
 *
 * It is the part of pino's logger the code that runs in the primary uses: a call per level,
 * with a message, an object of fields, or both; `level`, read and set; `flush`. A field's
 * value goes in as JSON (one that is undefined or a function is left out, a number that is not
 * finite is null); an Error under `err` as pino's error serializer writes its type, message and
 * stack.
 */
const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity } as const;
type Level = keyof typeof LEVELS;

/**
 * The primary's logger: NDJSON lines on the config's destination, through a batching writer
 * opened as a worker's is (log-writers.ts); SIGUSR1 reopens its file with reopenLogFiles.
 */
export function createPrimaryLogger(config: LogConfig, gatewayName: string): Logger {
  // One box for the logger's lines and the writer's own (renameGateway renames both).
  const gateway = { name: gatewayName };
  return eventLogger(openLogWriter(config.destination, gateway), config.level, gateway);
}

/** Where the lines go: a LineWriter, or a test's capture. */
export interface EventSink {
  write(line: string): unknown;
  flush(callback?: (err?: Error) => void): void;
}

/**
 * A logger writing to `writer` from `level` up (set `level` to change it); `gatewayName`: a box
 * shared with the writer, or the name to put in one of the logger's own.
 */
export function eventLogger(writer: EventSink, level: Level, gatewayName: string | GatewayName): Logger {
  const gateway = typeof gatewayName === 'string' ? { name: gatewayName } : gatewayName;
  let threshold: number = LEVELS[level];
  let current: Level = level;
  const at =
    (name: Exclude<Level, 'silent'>) =>
    (first?: unknown, message?: unknown): void => {
      if (LEVELS[name] < threshold) return;
      let fields: object | undefined;
      let msg = message;
      if (typeof first === 'string') msg = first;
      else if (first instanceof Error) {
        fields = { err: first };
        msg ??= first.message;
      } else if (typeof first === 'object' && first !== null) fields = first;
      let line = `{"level":"${name}","time":"${new Date().toISOString()}","gateway":${JSON.stringify(gateway.name)}`;
      if (fields !== undefined) line += fieldsJson(fields);
      if (typeof msg === 'string') line += `,"msg":${JSON.stringify(msg)}`;
      // What JSON.stringify leaves raw that a terminal obeys (C1, bidi overrides) as \\u escapes, as logger.ts's.
      writer.write(strictJson(`${line}}\n`));
    };
  const logger = {
    // A reload's new `name` (renameGateway).
    [GATEWAY_NAME]: gateway,
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    fatal: at('fatal'),
    get level(): Level {
      return current;
    },
    set level(next: Level) {
      current = next;
      threshold = LEVELS[next];
    },
    flush(callback?: (err?: Error) => void): void {
      writer.flush(callback);
    },
  };
  // Only what is above: the code that runs in the primary calls nothing else of pino's
  // (test/server/cli/primary-log.test.ts runs each of its calls against pino).
  return logger as unknown as Logger;
}

/** `,"key":value` for each field, in the object's order, as pino writes them. */
function fieldsJson(fields: object): string {
  let text = '';
  for (const key in fields) {
    let value: unknown = (fields as Record<string, unknown>)[key];
    if (key === 'err' && value instanceof Error) value = errorFields(value);
    switch (typeof value) {
      case 'undefined':
      case 'function':
        continue;
      case 'number':
        text += `,"${key}":${Number.isFinite(value) ? value : null}`;
        continue;
      default:
        text += `,"${key}":${jsonOf(value)}`;
    }
  }
  return text;
}

/** A value as JSON; one JSON cannot write (circular, a BigInt) as a placeholder: a log call never throws. */
function jsonOf(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return '"[unserializable]"';
  }
}

/** An Error as pino's error serializer writes it: its type, message, stack and own fields. */
function errorFields(err: Error): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    type: err.constructor.name,
    message: err.message,
    stack: err.stack,
  };
  for (const key in err)
    if (fields[key] === undefined) fields[key] = (err as unknown as Record<string, unknown>)[key];
  return fields;
}
