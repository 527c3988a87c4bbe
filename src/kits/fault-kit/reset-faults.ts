/**
 * Upstreams whose connection dies before the response is whole: the "reset" shape. "Close"
 * means a clean FIN, "reset" an RST (SO_LINGER 0), as a crashed or OOM-killed process leaves.
 */
import type { Fault } from './fault.ts';
import { type RawConnection, startRawFault } from './raw-server.ts';

interface BeforeHeadOptions {
  /** Hang up once the request head arrived, or (default) once its whole body did. */
  after?: 'head' | 'body';
}

function awaitRequest(connection: RawConnection, after: 'head' | 'body' = 'body') {
  return connection.nextRequest({ body: after === 'body' });
}

/** reset / connection_terminated: reads the request, then closes (FIN) without a byte of answer. */
export function startCloseBeforeHead(options: BeforeHeadOptions = {}): Promise<Fault> {
  return startRawFault(async (connection) => {
    await awaitRequest(connection, options.after);
    await connection.end();
  });
}

/** reset / connection_terminated: reads the request, then resets (RST) without a byte of answer. */
export function startResetBeforeHead(options: BeforeHeadOptions = {}): Promise<Fault> {
  return startRawFault(async (connection) => {
    await awaitRequest(connection, options.after);
    await connection.reset(0);
  });
}

interface MidHeadOptions {
  /** The partial head sent before closing (default "HTTP/1.1 200 OK\r\nContent-Type: text/pl"). */
  partial?: string;
  /** FIN (default) or RST after the partial head. */
  end?: 'close' | 'reset';
}

/** reset / connection_terminated: sends half a response head, then closes. */
export function startCloseMidHead(options: MidHeadOptions = {}): Promise<Fault> {
  return startRawFault(async (connection) => {
    await awaitRequest(connection);
    await connection.write(options.partial ?? 'HTTP/1.1 200 OK\r\nContent-Type: text/pl');
    if (options.end === 'reset') await connection.reset();
    else await connection.end();
  });
}

interface MidBodyOptions {
  /** `length`: Content-Length framing (default); `chunked`: one chunk of `sentBytes`, no last chunk. */
  framing?: 'length' | 'chunked';
  /** Content-Length announced (default 1000). */
  contentLength?: number;
  /** Body bytes sent before hanging up (default 100). */
  sentBytes?: number;
  /** Adds `Connection: close` to the head (an HTTP client may treat the RST differently then; see the kit's tests). */
  connectionClose?: boolean;
}

function partialAnswer(options: MidBodyOptions): string {
  const sent = 'x'.repeat(options.sentBytes ?? 100);
  const close = options.connectionClose ? 'Connection: close\r\n' : '';
  if (options.framing === 'chunked') {
    return `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n${close}Transfer-Encoding: chunked\r\n\r\n${sent.length.toString(16)}\r\n${sent}\r\n`;
  }
  const length = options.contentLength ?? 1000;
  return `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n${close}Content-Length: ${length}\r\n\r\n${sent}`;
}

/**
 * reset mid-body / http_response_incomplete (logged; the status is already sent): a 200 with
 * Content-Length 1000 (or chunked), 100 body bytes, then an RST.
 */
export function startResetMidBody(options: MidBodyOptions = {}): Promise<Fault> {
  return startRawFault(async (connection) => {
    await awaitRequest(connection);
    await connection.write(partialAnswer(options));
    await connection.reset();
  });
}

/** reset mid-body / http_response_incomplete (logged): as startResetMidBody, but a clean FIN. */
export function startCloseMidBody(options: MidBodyOptions = {}): Promise<Fault> {
  return startRawFault(async (connection) => {
    await awaitRequest(connection);
    await connection.write(partialAnswer(options));
    await connection.end();
  });
}

interface CloseDelimitedOptions {
  /** The body (default 1000 bytes of text). */
  body?: string;
  /** "1.0" (default): `HTTP/1.0 200 OK`; "1.1": `HTTP/1.1 200 OK` with `Connection: close`. */
  version?: '1.0' | '1.1';
}

const CLOSE_DELIMITED_BODY = 'close-delimited body line\n'.repeat(40).slice(0, 1000);

function closeDelimitedHead(options: CloseDelimitedOptions): string {
  return options.version === '1.1'
    ? 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n'
    : 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n';
}

/** Healthy (no failure): a body with no length that ends with the connection (FIN), as HTTP/1.0 allows. */
export function startCloseDelimited(options: CloseDelimitedOptions = {}): Promise<Fault> {
  return startRawFault(async (connection) => {
    await awaitRequest(connection);
    await connection.write(closeDelimitedHead(options) + (options.body ?? CLOSE_DELIMITED_BODY));
    await connection.end();
  });
}

/**
 * reset mid-body / http_response_incomplete: a close-delimited body cut by an RST instead of a
 * FIN. The trap: a parser that treats ECONNRESET on a close-delimited body as its end (undici's
 * does) reports the response complete.
 */
export function startCloseDelimitedThenReset(options: CloseDelimitedOptions = {}): Promise<Fault> {
  return startRawFault(async (connection) => {
    await awaitRequest(connection);
    await connection.write(closeDelimitedHead(options) + (options.body ?? CLOSE_DELIMITED_BODY));
    await connection.reset();
  });
}
