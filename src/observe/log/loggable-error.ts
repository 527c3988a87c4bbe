/**
 * A failure's cause as the log can write it. The gateway's own causes are Errors; a plugin (or a
 * program's stage, or an app's handler) may throw anything: a circular object, a BigInt, an Error
 * holding itself, a value whose getters throw. Written as they are, such a value throws in the
 * middle of the line (JSON.stringify, pino's serializer): the line lost, and the next one written
 * into its half. The value is kept when it can be written, or told by what of it can be read.
 */
import pino from 'pino';
import { readString } from '../../core/thrown-text.ts';

/** `cause` when the log can write it as it is; else an Error saying what can be read of it. */
export function loggableError(cause: unknown): unknown {
  if (cause === undefined) return undefined;
  try {
    if (JSON.stringify(pino.stdSerializers.err(cause as Error)) !== undefined) return cause;
  } catch {}
  const told = new Error(
    readString(cause, 'message') ?? `a thrown ${typeof cause} the log cannot write${primitive(cause)}`,
  );
  const name = readString(cause, 'name');
  if (name !== undefined) told.name = name;
  // Its own stack when it can be read; never this module's, which would point at the log.
  told.stack = readString(cause, 'stack');
  return told;
}

/** `cause` as JSON, as pino's serializer of errors writes it (never throws). */
export function errorJson(cause: unknown): string {
  return JSON.stringify(pino.stdSerializers.err(loggableError(cause) as Error)) ?? 'null';
}

/** A primitive's own text (a BigInt's digits, a symbol's description), for the message. */
function primitive(value: unknown): string {
  return typeof value === 'bigint' || typeof value === 'symbol' ? `: ${String(value)}` : '';
}
