/**
 * Upstreams that answer, but not in valid HTTP: the "garbage" shape. Each one records the
 * request it got; unless said otherwise the connection stays open after the bad bytes, so the
 * bytes alone are what the client has to judge.
 */
import { gzipSync } from 'node:zlib';
import type { Fault } from './fault.ts';
import { readRequest, startRawFault } from './raw-server.ts';

/** garbage / http_protocol_error: sshd's banner on connect; after a non-SSH line, its complaint and a FIN. */
export function startSshBanner(): Promise<Fault> {
  return startRawFault(async (connection) => {
    await connection.write('SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n');
    await connection.nextRequest();
    await connection.end('Invalid SSH identification string.\r\n');
  });
}

/**
 * garbage / http_protocol_error: Postfix's banner on connect; on an HTTP request line it says
 * goodbye and closes, as Postfix does for non-SMTP commands.
 */
export function startSmtpBanner(): Promise<Fault> {
  return startRawFault(async (connection) => {
    await connection.write('220 mail.example.com ESMTP Postfix\r\n');
    await connection.nextRequest();
    await connection.end('221 2.7.0 Error: I can break rules, too. Goodbye.\r\n');
  });
}

/**
 * garbage / http_protocol_error: a Redis error line after the request, then a FIN (Redis drops
 * connections that send `Host:`, taking them for a cross-protocol attack).
 */
export function startRedis(): Promise<Fault> {
  return startRawFault(async (connection) => {
    const request = await connection.nextRequest();
    await connection.end(
      `-ERR unknown command '${request.method}', with args beginning with: '${request.path}' 'HTTP/${request.httpVersion}' \r\n`,
    );
  });
}

/** garbage / http_protocol_error: a bare JSON line instead of a response, then a FIN. */
export function startJsonNotHttp(): Promise<Fault> {
  return startRawFault(async (connection) => {
    await readRequest(connection);
    await connection.end('{"error":"not http"}\n');
  });
}

const STACK_TRACE = `Traceback (most recent call last):
  File "/srv/app/server.py", line 42, in handle
    response = route(request)
  File "/srv/app/routes.py", line 7, in route
    return HANDLERS[request.path](request)
KeyError: '/'
`;

/** garbage / http_protocol_error: a crashing app's stack trace written to the socket, then a FIN. */
export function startStackTrace(): Promise<Fault> {
  return startRawFault(async (connection) => {
    await readRequest(connection);
    await connection.end(STACK_TRACE);
  });
}

/** garbage / http_protocol_error: an HTML page with no status line or headers (HTTP/0.9 style), then a FIN. */
export function startHtmlWithoutStatusLine(): Promise<Fault> {
  return startRawFault(async (connection) => {
    await readRequest(connection);
    await connection.end(
      '<!DOCTYPE html>\n<html><head><title>Hello</title></head><body>Hello</body></html>\n',
    );
  });
}

type InvalidHeaderVariant = 'space-in-name' | 'bare-cr' | 'nul' | 'no-colon' | 'obs-fold';

const INVALID_HEADERS: Record<InvalidHeaderVariant, string> = {
  'space-in-name': 'Bad Header Name: x\r\n',
  'bare-cr': 'X-Evil: a\rb\r\n',
  nul: 'X-Evil: a\0b\r\n',
  'no-colon': 'X-No-Colon-Here\r\n',
  'obs-fold': 'X-Folded: first\r\n  continued\r\n',
};

interface InvalidHeaderOptions {
  variant?: InvalidHeaderVariant;
  /**
   * Put the bad line after `Content-Length` instead of before it. Some clients (undici 8)
   * then report a Content-Length mismatch instead of a parse error (any parser error once a
   * Content-Length was seen), which a classifier must not read as a framing problem.
   */
  afterContentLength?: boolean;
}

/**
 * garbage / http_protocol_error: `200 OK` with one invalid header line (default a space in the
 * name; or a bare CR or a NUL in a value, a line without a colon, obsolete line folding), then a
 * 2-byte body; the connection stays open.
 */
export function startInvalidHeader(options: InvalidHeaderOptions = {}): Promise<Fault> {
  const bad = INVALID_HEADERS[options.variant ?? 'space-in-name'];
  const fields = options.afterContentLength
    ? `Content-Type: text/plain\r\nContent-Length: 2\r\n${bad}`
    : `${bad}Content-Type: text/plain\r\nContent-Length: 2\r\n`;
  return startRawFault(async (connection) => {
    await readRequest(connection);
    await connection.write(`HTTP/1.1 200 OK\r\n${fields}\r\nok`);
  });
}

type InvalidStatusLineVariant =
  | 'letters-in-code'
  | 'four-digit-code'
  | 'unknown-version'
  | 'code-below-100'
  | 'unasked-101'
  | 'unasked-101-bare';

const INVALID_STATUS_LINES: Record<InvalidStatusLineVariant, string> = {
  'letters-in-code': 'HTTP/1.1 2OO OK',
  'four-digit-code': 'HTTP/1.1 2000 OK',
  'unknown-version': 'HTTP/7.3 200 OK',
  // Three digits, so a parser takes the line; no status code is below 100 (RFC 9110 §15).
  'code-below-100': 'HTTP/1.1 099 Odd',
  // A switch nobody asked for (RFC 9110 §15.2.2: only to a request with Upgrade), with and without its fields.
  'unasked-101': 'HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket',
  'unasked-101-bare': 'HTTP/1.1 101 Switching Protocols',
};

/**
 * garbage / http_protocol_error: a status line no HTTP/1.x client may take, to a request that
 * asked for no upgrade (then valid headers and body).
 */
export function startInvalidStatusLine(options: { variant?: InvalidStatusLineVariant } = {}): Promise<Fault> {
  const line = INVALID_STATUS_LINES[options.variant ?? 'letters-in-code'];
  return startRawFault(async (connection) => {
    await readRequest(connection);
    await connection.write(`${line}\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok`);
  });
}

interface HugeHeaderOptions {
  /** Size of the one big header value (default 64 KiB). */
  size?: number;
}

/** garbage / http_response_header_section_size: a valid status line, one 64 KiB header, then a body. */
export function startHugeHeader(options: HugeHeaderOptions = {}): Promise<Fault> {
  const size = options.size ?? 64 * 1024;
  return startRawFault(async (connection) => {
    await readRequest(connection);
    await connection.write(
      `HTTP/1.1 200 OK\r\nX-Huge: ${'h'.repeat(size)}\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok`,
    );
  });
}

type BadFramingVariant = 'length-and-chunked' | 'two-lengths' | 'gzip-not-chunked' | 'bad-chunk-size';

/**
 * garbage / http_response_transfer_coding: contradictory or broken body framing:
 * `length-and-chunked` (default; Content-Length 5 and Transfer-Encoding chunked), `two-lengths`
 * (Content-Length 5 and 6), `gzip-not-chunked` (Transfer-Encoding gzip alone, body until FIN),
 * `bad-chunk-size` (a valid head, then a chunk size "zz": detectable only after the head).
 */
export function startBadFraming(options: { variant?: BadFramingVariant } = {}): Promise<Fault> {
  const variant = options.variant ?? 'length-and-chunked';
  return startRawFault(async (connection) => {
    await readRequest(connection);
    const head = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n';
    switch (variant) {
      case 'length-and-chunked':
        await connection.write(
          `${head}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
        );
        return;
      case 'two-lengths':
        await connection.write(`${head}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!`);
        return;
      case 'gzip-not-chunked':
        await connection.write(`${head}Transfer-Encoding: gzip\r\n\r\n`);
        await connection.end(gzipSync('hello'));
        return;
      case 'bad-chunk-size':
        await connection.write(`${head}Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n`);
        return;
    }
  });
}

/**
 * Healthy (no failure, the gateway must pass it through): `304 Not Modified` with
 * `Content-Length: 1234` and no body, valid per RFC 9110 §8.6; answers every request on the
 * connection that way (keep-alive).
 */
export function startNotModifiedWithLength(options: { contentLength?: number } = {}): Promise<Fault> {
  const length = options.contentLength ?? 1234;
  return startRawFault(async (connection) => {
    for (;;) {
      await readRequest(connection);
      await connection.write(`HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: ${length}\r\n\r\n`);
    }
  });
}
