import { errors } from 'undici';
import { Failure } from './failure.ts';
import type { FailureType, Stage } from './taxonomy.ts';

/**
 * Turns what Node and undici throw into one Failure record. This is the only place that
 * looks at error classes and codes; everything after it reads the record.
 *
 * Details never contain an address: they reach clients, who may not see internal hosts.
 */

export type ConnectPhase = 'dns' | 'tcp' | 'tls';

const CERTIFICATE_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** TLS alert descriptions (RFC 8446 §6) by the name OpenSSL puts in its error codes. */
const TLS_ALERTS: Readonly<Record<string, number>> = {
  UNEXPECTED_MESSAGE: 10,
  BAD_RECORD_MAC: 20,
  RECORD_OVERFLOW: 22,
  HANDSHAKE_FAILURE: 40,
  BAD_CERTIFICATE: 42,
  UNSUPPORTED_CERTIFICATE: 43,
  CERTIFICATE_REVOKED: 44,
  CERTIFICATE_EXPIRED: 45,
  CERTIFICATE_UNKNOWN: 46,
  ILLEGAL_PARAMETER: 47,
  UNKNOWN_CA: 48,
  ACCESS_DENIED: 49,
  DECODE_ERROR: 50,
  DECRYPT_ERROR: 51,
  PROTOCOL_VERSION: 70,
  INSUFFICIENT_SECURITY: 71,
  INTERNAL_ERROR: 80,
  INAPPROPRIATE_FALLBACK: 86,
  USER_CANCELLED: 90,
  MISSING_EXTENSION: 109,
  UNSUPPORTED_EXTENSION: 110,
  UNRECOGNIZED_NAME: 112,
  BAD_CERTIFICATE_STATUS_RESPONSE: 113,
  UNKNOWN_PSK_IDENTITY: 115,
  CERTIFICATE_REQUIRED: 116,
  NO_APPLICATION_PROTOCOL: 120,
};

function ms(elapsed: number): string {
  return elapsed < 10 ? `${elapsed.toFixed(1)} ms` : `${Math.round(elapsed)} ms`;
}

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

/** A failure while opening the connection: nothing of the request was sent. */
export function classifyConnectError(err: unknown, phase: ConnectPhase, elapsed: number): Failure {
  if (err instanceof Failure) return err;
  const code = codeOf(err);
  const after = `after ${ms(elapsed)}`;
  const init = { cause: err };
  if (phase === 'dns') {
    if (code === 'ENOTFOUND' || code === 'EAI_NONAME')
      return new Failure('dns_error', `name does not resolve (${code}) ${after}`, {
        ...init,
        params: { rcode: 'NXDOMAIN' },
      });
    if (code === 'ENODATA')
      return new Failure('dns_error', `name has no address records (${code}) ${after}`, {
        ...init,
        params: { rcode: 'NOERROR' },
      });
    return new Failure('dns_error', `name lookup failed (${code || 'unknown'}) ${after}`, {
      ...init,
      params: { rcode: 'SERVFAIL' },
    });
  }
  switch (code) {
    case 'ECONNREFUSED':
      return new Failure('connection_refused', `connection refused (ECONNREFUSED) ${after}`, init);
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EHOSTDOWN':
    case 'ENETDOWN':
    case 'EADDRNOTAVAIL':
      return new Failure('destination_ip_unroutable', `no route to the upstream (${code}) ${after}`, init);
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return new Failure('connection_timeout', `connect timed out (${code}) ${after}`, init);
  }
  if (CERTIFICATE_CODES.has(code)) {
    return new Failure('tls_certificate_error', `certificate rejected (${code}) ${after}`, init);
  }
  const alert = /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13|SSL\/TLS)_(?:ALERT_)?([A-Z_]+)$/.exec(code);
  if (alert && TLS_ALERTS[alert[1]] !== undefined) {
    const alertMessage = alert[1].toLowerCase();
    return new Failure('tls_alert_received', `TLS alert ${alertMessage} received ${after}`, {
      ...init,
      params: { alertId: TLS_ALERTS[alert[1]], alertMessage },
    });
  }
  if (phase === 'tls' || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) {
    return new Failure('tls_protocol_error', `TLS handshake failed (${code || 'closed'}) ${after}`, init);
  }
  return new Failure(
    'connection_terminated',
    `connection failed while opening (${code || 'closed'}) ${after}`,
    init,
  );
}

/**
 * A failure once the connection existed. `stage` says how far the exchange got; after the
 * head went downstream every failure is either a cut-short body or a stalled one.
 */
export function classifyExchangeError(err: unknown, stage: Stage, elapsed: number): Failure {
  if (err instanceof Failure) return err.at(stage);
  // undici turns an exception thrown by our own handler into an abort: that is a bug of
  // the gateway's, not a failure of the upstream, and must not be reported as one.
  if (!isNetworkError(err)) {
    return new Failure('proxy_internal_error', 'internal error while proxying', { stage, cause: err });
  }
  const after = `after ${ms(elapsed)}`;
  const init = { stage, cause: err };
  const code = codeOf(err);
  if (stage === 'head_received' || stage === 'body_streaming') {
    if (err instanceof errors.BodyTimeoutError)
      return new Failure('connection_read_timeout', `response body stalled (read timeout) ${after}`, init);
    // Garbage in the body (a bad chunk) is still garbage, not a clean cut.
    if (err instanceof errors.HTTPParserError) return classifyParseError(err, init);
    const why =
      err instanceof errors.ResponseContentLengthMismatchError
        ? 'body shorter than Content-Length'
        : describeDrop(err, code);
    return new Failure('http_response_incomplete', `response body cut short: ${why} ${after}`, init);
  }
  if (err instanceof errors.HeadersTimeoutError)
    return new Failure('http_response_timeout', `no response head ${after}`, init);
  if (err instanceof errors.HeadersOverflowError)
    return new Failure('http_response_header_section_size', 'response header section over the limit', init);
  if (err instanceof errors.HTTPParserError) return classifyParseError(err, init);
  // Before the head, this is undici masking a parse error: llhttp rejected a head that had
  // already set a Content-Length (a second, different one, or one beside Transfer-Encoding).
  if (err instanceof errors.ResponseContentLengthMismatchError)
    return new Failure(
      'http_response_transfer_coding',
      'invalid response framing: conflicting Content-Length / Transfer-Encoding',
      init,
    );
  if (err instanceof errors.ConnectTimeoutError)
    return new Failure('connection_timeout', `connect timed out ${after}`, { ...init, stage: 'not_sent' });
  return new Failure(
    'connection_terminated',
    `${describeDrop(err, code)} before the response head ${after}`,
    init,
  );
}

/** Errors the network and the HTTP parser produce: they all carry a code, or are the parser's. */
function isNetworkError(err: unknown): boolean {
  return codeOf(err) !== '' || err instanceof errors.HTTPParserError;
}

function describeDrop(err: unknown, code: string): string {
  if (code === 'ECONNRESET') return 'connection reset (ECONNRESET)';
  if (code === 'EPIPE') return 'connection broken while writing (EPIPE)';
  if (err instanceof errors.SocketError) return 'connection closed by the upstream';
  return `connection lost (${code || (err as Error)?.message || 'unknown'})`;
}

/**
 * undici's HTTPParserError may carry no code (llhttp 9.2+), so the class decides that it
 * is a protocol error and the reason llhttp gives picks the finer type when it can.
 */
function classifyParseError(err: Error, init: { stage: Stage; cause: unknown }): Failure {
  const reason = (/\((.*)\)$/.exec(err.message)?.[1] ?? err.message) || 'invalid response';
  const code = codeOf(err);
  let type: FailureType = 'http_protocol_error';
  if (/transfer-encoding|chunk/i.test(reason) || /TRANSFER_ENCODING|CHUNK/.test(code))
    type = 'http_response_transfer_coding';
  else if (/content-length/i.test(reason) || /CONTENT_LENGTH/.test(code))
    type = 'http_response_content_length';
  else if (code === 'HPE_HEADER_OVERFLOW') type = 'http_response_header_section_size';
  return new Failure(type, `invalid response: ${reason}`, init);
}
