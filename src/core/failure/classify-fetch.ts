import { classifyConnectError, classifyExchangeError, ms } from './classify.ts';
import { Failure } from './failure.ts';
import { h2ErrorName } from './h2-stream-end.ts';
import type { FailureType } from './taxonomy.ts';

/** Codes of a name that did not resolve: nothing was sent. */
const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'ENODATA']);

/**
 * undici's codes for an answer that came but is not valid HTTP: the garbage shape, whose
 * retry would meet the same answer (its parser's own error has no code: it is told by name).
 */
const GARBAGE_CODES: ReadonlyMap<string, FailureType> = new Map([
  ['UND_ERR_HEADERS_OVERFLOW', 'http_response_header_section_size'],
  // candor/client's own, for a Transfer-Encoding fetch reads and the gateway refuses (kits/client/framing.ts).
  ['ERR_CANDOR_TRANSFER_CODING', 'http_response_transfer_coding'],
  // candor/client's own, for a status code past 599 fetch takes and the gateway's parser refuses.
  ['ERR_CANDOR_STATUS_CODE', 'http_protocol_error'],
  // candor/client's own, for a status line of an HTTP version other than 1.x, which fetch reads as HTTP/1.
  ['ERR_CANDOR_HTTP_VERSION', 'http_protocol_error'],
]);

/**
 * undici's "Response body length does not match content-length header" says only that a
 * Content-Length was read and that its count of body bytes differs, for two faults: a head its
 * parser refused once a Content-Length was in it (whatever the fault: a second or invalid
 * Content-Length, Transfer-Encoding beside it, a bad field after it: llhttp's reason is dropped),
 * with fetch still waiting for the head; or, the head given, a `Connection: close` answer whose
 * connection ended before the Content-Length's bytes came (the same close on a kept-alive one
 * is its "other side closed"). The first is garbage of a kind undici does not name, the
 * protocol error; the second a body cut short.
 */
function lengthMismatch(cause: unknown, stage: 'sent' | 'head_received', elapsed: number): Failure {
  if (stage === 'head_received')
    return new Failure(
      'http_response_incomplete',
      `response body cut short: the connection closed before the Content-Length's bytes came (UND_ERR_RES_CONTENT_LENGTH_MISMATCH) after ${ms(elapsed)}`,
      { stage, cause },
    );
  return new Failure(
    'http_protocol_error',
    `the response head is not valid HTTP (UND_ERR_RES_CONTENT_LENGTH_MISMATCH: undici names only the Content-Length it read, whatever it refused: a second or invalid Content-Length, Transfer-Encoding beside it, or an invalid field) after ${ms(elapsed)}`,
    { stage: 'head_received', cause },
  );
}

/**
 * Status lines llhttp parses but undici refuses in its own code, not as an HTTPParserError: a
 * code below 100 (`HTTP/1.1 099`) trips its assertion `statusCode >= 100`; a 101 to a request
 * that asked for no upgrade is its SocketError "bad upgrade", or, without an Upgrade field, its
 * assertion `upgrade`. The gateway's own parser calls each garbage (answer-parser.ts); told
 * "connection lost", a GET was sent again to meet the same answer. Matched by undici's words,
 * their codes being shared with other faults; what else those codes say stays what it was.
 */
function refusedStatus(code: string, message: string): string | undefined {
  // undici's "bad response" to a request in flight: a 100 Continue, which fetch never asks for
  // (no Expect) and does not read past, though RFC 9110 §15.2 lets it come. Told "connection
  // lost", a GET went again to meet the same 100.
  if (code === 'UND_ERR_SOCKET' && message === 'bad response')
    return 'a 100 Continue no Expect asked for, which fetch (undici) does not read past';
  if (code === 'ERR_ASSERTION' && /\bstatusCode >= 100\b/.test(message)) return 'a status code below 100';
  if (
    (code === 'UND_ERR_SOCKET' && message === 'bad upgrade') ||
    (code === 'ERR_ASSERTION' && /\bassert\(upgrade\)/.test(message))
  )
    return '101 Switching Protocols, but no upgrade was asked for';
  return undefined;
}

/**
 * The codes of node:zlib's decoders (fetch decodes a Content-Encoding itself): zlib's `Z_*`,
 * brotli's `ERR__ERROR_*`, zstd's `ZSTD_error_*`. A body that does not decode as its
 * Content-Encoding says came whole: garbage, not a connection lost (retried, it is the same).
 */
const DECODING_ERROR = /^(Z_[A-Z_]+|ERR__ERROR_[A-Z0-9_]+|ZSTD_error_\w+)$/;

/** The finer type of an HTTP parser error, from llhttp's reason ("Invalid character in chunk size"). */
function parserErrorType(message: string): FailureType {
  if (/content-length/i.test(message)) return 'http_response_content_length';
  // A bare LF ending a chunk-size line (its size, or an extension after it) is a line ending
  // HTTP does not allow, the protocol error the gateway's chunk decoder calls it; one after a
  // chunk's data is a chunk not ended, the coding's.
  if (/Missing expected CR after chunk (size|extension)/i.test(message)) return 'http_protocol_error';
  if (/chunk|transfer-encoding/i.test(message)) return 'http_response_transfer_coding';
  return 'http_protocol_error';
}

/**
 * An HTTP/2 stream the server reset (a fetch that speaks HTTP/2: undici's with `allowH2`), node's
 * `Stream closed with error code NGHTTP2_<NAME>`: its connection is up, none was lost. Refused
 * (REFUSED_STREAM) before its head, the request was not processed (RFC 9113 §8.7: it may go again
 * whatever its method, as the gateway takes an upstream's refusal, h2-stream-end.ts; its own HTTP/2
 * listener refuses streams so, telling the client it may send them again); reset otherwise, it may
 * have been; after the head, the body was cut.
 */
function streamReset(cause: Error, stage: 'sent' | 'head_received', elapsed: number): Failure {
  const name = /NGHTTP2_([A-Z0-9_]+)/.exec(cause.message)?.[1] ?? 'unknown code';
  if (stage === 'head_received')
    return new Failure(
      'http_response_incomplete',
      `response body cut short: stream reset (${name}) after ${ms(elapsed)}`,
      { stage, cause },
    );
  if (name === 'REFUSED_STREAM')
    return new Failure(
      'connection_terminated',
      `the server refused the stream (REFUSED_STREAM): it did not process the request after ${ms(elapsed)}`,
      { stage: 'not_sent', cause, unprocessed: true },
    );
  // As the gateway reads these of an upstream (h2-stream-end.ts): an HTTP/2 protocol error of the
  // exchange, which the same request would meet again (node:http2 resets so a head HTTP/2
  // forbids, a server so a request it found malformed), or a server that speaks HTTP/1.1 only.
  if (name === 'PROTOCOL_ERROR' || name === 'HTTP_1_1_REQUIRED')
    return new Failure(
      'http_protocol_error',
      name === 'PROTOCOL_ERROR'
        ? `the stream was reset PROTOCOL_ERROR before the response head: the server's own reset (it found the request malformed), or node:http2 refusing a head HTTP/2 forbids, after ${ms(elapsed)}`
        : `the server asks for HTTP/1.1 (HTTP_1_1_REQUIRED) after ${ms(elapsed)}`,
      { stage: 'sent', cause },
    );
  return new Failure(
    'connection_terminated',
    `stream reset (${name}) before the response head after ${ms(elapsed)}`,
    {
      stage,
      cause,
    },
  );
}

/**
 * fetch's "fetch failed" TypeError, classified by the gateway's own table: its cause's code
 * says whether the connection was ever made (refused, unreachable, connect timeout, a TLS or
 * certificate failure: nothing was sent). An answer that is not valid HTTP is garbage, as the
 * gateway's own parser would call it. Anything else (a reset, "other side closed", a code
 * the table does not know) may have reached the upstream. With `stage` `head_received` the error
 * came while the body of a response whose head had come was read: a body cut short, never a
 * connection lost "before the response head".
 */
export function classifyFetchError(
  err: unknown,
  elapsed: number,
  stage: 'sent' | 'head_received' = 'sent',
): Failure {
  let cause = (err as { cause?: unknown } | null)?.cause ?? err;
  // Happy eyeballs: an AggregateError whose first error carries the code.
  if (cause instanceof AggregateError && (cause as { code?: unknown }).code === undefined)
    cause = cause.errors[0] ?? cause;
  const code = String((cause as { code?: unknown } | null)?.code ?? '');
  if (code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') return lengthMismatch(cause, stage, elapsed);
  // llhttp's "Invalid EOF state": undici ended the parse at the connection's end (a close or, on
  // an answer without keep-alive, a reset) where the message could not end, inside a chunked
  // body. A cut, never garbage: every byte that came was valid HTTP.
  if (
    (cause as Error | null)?.name === 'HTTPParserError' &&
    /Invalid EOF state/.test((cause as Error).message)
  )
    return stage === 'head_received'
      ? new Failure(
          'http_response_incomplete',
          `response body cut short: the connection ended before the body's end (Invalid EOF state) after ${ms(elapsed)}`,
          { stage, cause },
        )
      : new Failure(
          'connection_terminated',
          `the connection ended in the middle of the response (Invalid EOF state) after ${ms(elapsed)}`,
          { stage, cause },
        );
  const garbage =
    (cause as Error | null)?.name === 'HTTPParserError'
      ? parserErrorType((cause as Error).message)
      : GARBAGE_CODES.get(code);
  if (garbage !== undefined)
    return new Failure(
      garbage,
      `${(cause as Error).message} (${code || 'HTTPParserError'}) after ${ms(elapsed)}`,
      { stage: 'head_received', cause },
    );
  if (DECODING_ERROR.test(code))
    return new Failure(
      'http_protocol_error',
      `its body does not decode as its Content-Encoding says (${code}) after ${ms(elapsed)}`,
      { stage: 'head_received', cause },
    );
  const refused = refusedStatus(code, (cause as Error | null)?.message ?? '');
  if (refused !== undefined)
    return new Failure('http_protocol_error', `${refused} (${code}) after ${ms(elapsed)}`, {
      stage: 'head_received',
      cause,
    });
  // A lookup's error is the lookup's whatever its code: out of descriptors, getaddrinfo says EBUSY.
  if (DNS_CODES.has(code) || (cause as { syscall?: unknown } | null)?.syscall === 'getaddrinfo')
    return classifyConnectError(cause, 'dns', elapsed);
  // undici's own wait for the response head (its dispatcher's headersTimeout) ran out.
  if (code === 'UND_ERR_HEADERS_TIMEOUT')
    return new Failure('http_response_timeout', `no response head in time (${code}) after ${ms(elapsed)}`, {
      stage: 'sent',
      cause,
    });
  // undici's own wait for the next body bytes (its dispatcher's bodyTimeout) ran out: a stall,
  // the slow shape, never a connection lost.
  if (code === 'UND_ERR_BODY_TIMEOUT')
    return new Failure('connection_read_timeout', `no body bytes in time (${code}) after ${ms(elapsed)}`, {
      stage: 'head_received',
      cause,
    });
  // undici's HTTP/2 client at a GOAWAY: the server closing the connection, no connection lost.
  // undici 7 ends every request in flight at one, whatever its last stream id (nodejs/undici#5089),
  // so a request the server said it would process fails too, and may have been processed.
  const goaway =
    code === 'UND_ERR_SOCKET'
      ? /^HTTP\/2: "GOAWAY" frame received with code (\d+)$/.exec((cause as Error).message)
      : null;
  if (goaway !== null) {
    const closed = `the server closed the HTTP/2 connection (GOAWAY ${h2ErrorName(Number(goaway[1]))})`;
    const undici =
      'undici 7 ends the requests in flight at any GOAWAY, processed or not (nodejs/undici#5089)';
    return stage === 'sent'
      ? new Failure(
          'connection_terminated',
          `${closed} before the response head: ${undici}, after ${ms(elapsed)}`,
          {
            stage,
            cause,
          },
        )
      : new Failure('http_response_incomplete', `response body cut short: ${closed} after ${ms(elapsed)}`, {
          stage,
          cause,
        });
  }
  // undici's "other side closed": the upstream's clean close (FIN), no connection lost (the
  // gateway's words, connection-ended.ts). undici does not say whether part of a head had come.
  if (code === 'UND_ERR_SOCKET' && (cause as Error).message === 'other side closed')
    return stage === 'sent'
      ? new Failure(
          'connection_terminated',
          `connection closed by the upstream before the response head was whole after ${ms(elapsed)}`,
          { stage, cause },
        )
      : new Failure(
          'http_response_incomplete',
          `response body cut short: connection closed by the upstream after ${ms(elapsed)}`,
          { stage, cause },
        );
  if (code === 'ERR_HTTP2_STREAM_ERROR') return streamReset(cause as Error, stage, elapsed);
  if (code !== '') {
    // A socket's read or write failed: the connection was made, so whatever the code says it was
    // lost, never "not made" (ETIMEDOUT is TCP giving up on a peer gone silent, EHOSTUNREACH an
    // ICMP answer about one gone away), and the request may have been delivered.
    const syscall = (cause as { syscall?: unknown }).syscall;
    if (stage === 'sent' && syscall !== 'read' && syscall !== 'write') {
      const connect = classifyConnectError(cause, 'tcp', elapsed);
      if (connect.type !== 'connection_terminated') return connect;
    }
    return classifyExchangeError(cause, stage, elapsed);
  }
  const message = cause instanceof Error ? cause.message : String(cause);
  return stage === 'sent'
    ? new Failure('connection_terminated', `connection lost (${message}) after ${ms(elapsed)}`, {
        stage,
        cause,
      })
    : new Failure(
        'http_response_incomplete',
        `response body cut short: connection lost (${message}) after ${ms(elapsed)}`,
        { stage, cause },
      );
}
