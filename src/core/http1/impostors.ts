/**
 * What answered, when it is not HTTP: the first bytes of the well-known impostors on a port
 * (another service, a TLS server, an HTTP/2-only server, an app writing to the socket directly),
 * so that the gateway's 502 and `candor diagnose`'s fix can name it instead of saying "garbage".
 */

import { printable as escapeControls } from '../printable.ts';

/** The bytes identify() reads of an upstream's answer (an impostor says what it is in its first line). */
export const IDENTIFY_BYTES = 512;

export interface Identification {
  /** "an SSH server", "a TLS server"... */
  readonly what: string;
  /** The bytes that gave it away, printable. */
  readonly evidence: string;
}

/**
 * The first line (or first bytes) of `bytes`, printable, at most `max` characters: bytes that
 * are mostly binary as hex, text with every control character escaped (a banner's escape
 * sequences must not reach the terminal; only the first 16 characters were checked before).
 */
export function printableBytes(bytes: Buffer, max = 120): string {
  const head = bytes.toString('latin1', 0, Math.min(bytes.length, max + 1));
  const end = head.search(/[\r\n]/);
  const firstLine = end === -1 ? head : head.slice(0, end);
  const binary = /[\x00-\x08\x0e-\x1f\x7f-\x9f]/.test(firstLine.slice(0, 16));
  if (binary) {
    const hex = bytes.subarray(0, 16).toString('hex').replace(/(..)/g, '$1 ').trim();
    return `${hex}${bytes.length > 16 ? ' …' : ''} (${bytes.length} bytes, binary)`;
  }
  const shown = escapeControls(firstLine.slice(0, max), true);
  return firstLine.length > max ? `${shown}…` : shown;
}

/** What identify() says of bytes that are none of the impostors it knows. */
export const UNKNOWN_SPEAKER = 'something that does not speak HTTP';

/**
 * What sent `bytes` instead of an HTTP/1.1 status line. The regular expressions are run on every
 * byte given: the gateway gives the first IDENTIFY_BYTES of an upstream's answer, no more.
 * `whole`: the answer ended there (`candor diagnose` reads until the peer closes or goes quiet);
 * false for the first read of an answer that may go on (the gateway's parser fails at its first
 * byte that is not HTTP), where a guess from a single byte would be one from a prefix.
 */
export function identify(bytes: Buffer, whole = true): Identification {
  const text = bytes.toString('latin1');
  const evidence = printableBytes(bytes);
  const is = (what: string, shown = evidence): Identification => ({ what, evidence: shown });
  if ((bytes[0] === 0x15 || bytes[0] === 0x16) && bytes[1] === 0x03)
    return is(
      'a TLS server',
      `a TLS ${bytes[0] === 0x15 ? 'alert' : 'handshake'} record (0x${bytes[0].toString(16)} 0x03…)`,
    );
  if (text.startsWith('SSH-')) return is('an SSH server');
  // 220 opens both an FTP and an SMTP greeting, and any home-made banner: a name is given only
  // when the greeting says which (RFC 5321 greetings name ESMTP or SMTP, FTP servers their kind).
  if (/^220[ -]/.test(text)) {
    if (/\bE?SMTP\b/i.test(evidence)) return is('an SMTP server');
    if (/ftp/i.test(evidence)) return is('an FTP server');
    return is('a server that greets with "220" (neither SMTP nor FTP by its banner)');
  }
  if (/^\* (OK|PREAUTH)/.test(text)) return is('an IMAP server');
  if (/^\+OK/.test(text) && /pop/i.test(evidence)) return is('a POP3 server');
  if (/^(-(ERR|WRONGTYPE|NOAUTH|DENIED|NOPERM)|\+OK|\$-?\d+\r\n|\*-?\d+\r\n|:-?\d+\r\n)/.test(text))
    return is('a Redis server');
  const postgres = postgresMessage(bytes, whole);
  if (postgres) return is('a PostgreSQL server', postgres);
  if (isMysqlGreeting(bytes)) return is('a MySQL server', `a MySQL greeting (server ${mysqlVersion(bytes)})`);
  if (isHttp2Frame(bytes))
    return is('an HTTP/2-only server (h2c)', 'an HTTP/2 frame instead of an HTTP/1.1 status line');
  if (/^\s*(<!doctype html|<html|<head|<body|<!--|<meta|<title)/i.test(text))
    return is('an HTML page without a status line');
  const trace = stackTrace(text);
  if (trace) return is('a raw stack trace', trace);
  if (isJson(text)) return is('a bare JSON document');
  return is(UNKNOWN_SPEAKER);
}

/**
 * 'E' + length + fields ('S', 'V', 'C', 'M'...), or a lone 'N' / 'S' (the answer to an SSL
 * request): only when that byte is the whole answer, as an `S` read alone is as likely the
 * first of an SSH banner (`SSH-2.0-…`) that came in two reads.
 */
function postgresMessage(bytes: Buffer, whole: boolean): string | undefined {
  if (whole && bytes.length === 1 && (bytes[0] === 0x4e || bytes[0] === 0x53))
    return `a single "${String.fromCharCode(bytes[0])}" byte (the answer to a PostgreSQL SSL request)`;
  if (bytes.length < 6 || bytes[0] !== 0x45) return undefined;
  const length = bytes.readUInt32BE(1);
  if (length < 5 || length > 65_536 || !'SVCMR'.includes(String.fromCharCode(bytes[5]))) return undefined;
  const fields = bytes
    .subarray(5, 1 + length)
    .toString('utf8')
    .split('\0');
  const message = fields.find((field) => field.startsWith('M'))?.slice(1);
  return `a PostgreSQL error message${message ? `: "${message}"` : ''}`;
}

/** Payload length (3 bytes, little-endian), sequence 0, protocol 10, then a NUL-terminated version. */
function isMysqlGreeting(bytes: Buffer): boolean {
  if (bytes.length < 8 || bytes[3] !== 0 || bytes[4] !== 0x0a) return false;
  const length = bytes.readUIntLE(0, 3);
  const nul = bytes.indexOf(0, 5);
  return length >= 10 && length <= 1024 && nul > 5 && nul < 69;
}

function mysqlVersion(bytes: Buffer): string {
  const end = bytes.indexOf(0, 5);
  return bytes.toString('latin1', 5, end === -1 ? Math.min(bytes.length, 40) : end);
}

/** A SETTINGS (4) or GOAWAY (7) frame on stream 0: what an HTTP/2 server answers to HTTP/1.1. */
function isHttp2Frame(bytes: Buffer): boolean {
  return bytes.length >= 9 && (bytes[3] === 0x04 || bytes[3] === 0x07) && bytes.readUInt32BE(5) === 0;
}

function stackTrace(text: string): string | undefined {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  const python = lines.findIndex((line) => line.startsWith('Traceback (most recent call last)'));
  if (python !== -1) {
    const last = lines
      .slice(python)
      .find((line) => /^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b/.test(line));
    return last ?? lines[python];
  }
  const frames = lines.filter((line) => /^\s+at \S/.test(line)).length;
  const error = lines.find((line) => /\b\w*(Error|Exception)\b/.test(line));
  if (frames >= 1 && error) return error.trim();
  if (error && /^(Exception|panic:|Fatal error|java\.|\w+(\.\w+)+Exception)/.test(error.trim()))
    return error.trim();
  return undefined;
}

function isJson(text: string): boolean {
  const trimmed = text.trim();
  if (!/^[[{]/.test(trimmed)) return false;
  try {
    JSON.parse(trimmed);
    return true;
  } catch {
    // A JSON document cut by the read limit, or one line of several.
    return /^[[{]\s*"/.test(trimmed);
  }
}
