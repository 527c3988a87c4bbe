/** The field lines this hop writes into an HTTP/1.1 response head (http1-answer.ts), made once and reused. */
import { nameIs } from '../../../core/http1/syntax.ts';

let dateSecond = 0;
let dateLine = '';
/** RFC 9110 §6.6.1: the Date field line, formatted once a second (the same string for every response in it). */
export function dateFieldLine(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateLine = `date: ${new Date(now).toUTCString()}\r\n`;
  }
  return dateLine;
}

let keepAliveSeconds = -1;
let keepAliveText = '';
/** `connection: keep-alive` and its timeout, as field lines: made once for a listener's setting. */
export function keepAliveLines(seconds: number): string {
  if (seconds !== keepAliveSeconds) {
    keepAliveSeconds = seconds;
    keepAliveText = `connection: keep-alive\r\nkeep-alive: timeout=${seconds}\r\n`;
  }
  return keepAliveText;
}

const LAST_CHUNK = '0\r\n\r\n';

/** A chunked body's end: its last chunk, and its trailer section (empty but for the final CRLF when there are none). */
export function lastChunk(trailers: readonly string[] | undefined): string {
  if (trailers === undefined || trailers.length === 0) return LAST_CHUNK;
  let last = '0\r\n';
  for (let i = 0; i < trailers.length; i += 2) last += `${trailers[i]}: ${trailers[i + 1]}\r\n`;
  return `${last}\r\n`;
}

/** fieldsSaid's bits: the head has a Date, a Content-Length, a Connection, an Upgrade field. */
export const SAID_DATE = 1;
export const SAID_LENGTH = 2;
export const SAID_CONNECTION = 4;
export const SAID_UPGRADE = 8;

/**
 * Which of the three fields this hop reads a head has (SAID_*), in one pass: names compared as
 * they came (nameIs: a lower-cased copy of each was three strings an answer from nginx). A
 * number, not an object: nothing made a response.
 */
export function fieldsSaid(headers: readonly string[]): number {
  let said = 0;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i];
    if (nameIs(name, 'date')) said |= SAID_DATE;
    else if (nameIs(name, 'connection')) said |= SAID_CONNECTION;
    else if (nameIs(name, 'content-length')) said |= SAID_LENGTH;
    else if (nameIs(name, 'upgrade')) said |= SAID_UPGRADE;
  }
  return said;
}

/**
 * The connection's fate, for a head that does not say it: `close`, or as node:http said it,
 * clients (and the drain test's) read it here.
 */
export function connectionLine(close: boolean, keepAliveSeconds: number, upgrade = false): string {
  // RFC 9110 §7.8: a sender of Upgrade (a 426's) sends the upgrade option with it.
  if (upgrade) return `connection: upgrade, ${connectionLine(close, keepAliveSeconds).slice(12)}`;
  if (close) return 'connection: close\r\n';
  return keepAliveSeconds > 0 ? keepAliveLines(keepAliveSeconds) : 'connection: keep-alive\r\n';
}
