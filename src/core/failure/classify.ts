import { certificateProblem } from './certificate-words.ts';
import { Failure } from './failure.ts';
import { descriptorLimit, outOfDescriptors } from './out-of-descriptors.ts';
import type { Stage } from './taxonomy.ts';

/**
 * Turns what Node throws on a connection (an upstream's, or the client's while its body
 * streams) into one Failure record. This is the only place that reads socket error classes
 * and codes; everything after it reads the record. (The request parser's own codes, HPE_*,
 * are read where its errors arrive: accept/client-error.ts.)
 *
 * Details never contain an address: they reach clients, who may not see internal hosts.
 */

export type ConnectPhase = 'dns' | 'tcp' | 'tls';

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

/**
 * The alerts a TLS 1.3 server sends while it checks the client's second flight (its certificate,
 * CertificateVerify, Finished), which it reads after the client may have written its request:
 * handshake_failure, bad_certificate … access_denied, decrypt_error,
 * bad_certificate_status_response, certificate_required.
 */
const CLIENT_FLIGHT_ALERTS: ReadonlySet<number> = new Set([40, 42, 43, 44, 45, 46, 47, 48, 49, 51, 113, 116]);

/** "0.4 ms", "12 ms": how long something took, for failure details. */
export function ms(elapsed: number): string {
  return elapsed < 10 ? `${elapsed.toFixed(1)} ms` : `${Math.round(elapsed)} ms`;
}

export function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

/**
 * The TLS alert the peer ended the connection with, as a failure; undefined when the error is
 * none. Under TLS 1.3 the client finishes its side of the handshake first, so a server that
 * refuses it (no client certificate: certificate_required, 116) sends its alert after the
 * connection looked open, and the request may have been written: the alert is still what ended
 * it (RFC 9209 §2.3.15), whenever it comes and whatever the version. A server that ends the
 * handshake with an alert never took the request (its application saw no byte of it), so the
 * record stays `not_sent` however far the bytes went, as for a refused stream. `stage`: how far
 * the request went when the alert came (`not_sent` during the connect); past it, an alert that
 * is no such refusal is a connection terminated at that stage.
 */
export function tlsAlertFailure(err: unknown, after: string, stage: Stage = 'not_sent'): Failure | undefined {
  const alert = /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13|SSL\/TLS)_(?:ALERT_)?([A-Z_]+)$/.exec(codeOf(err));
  if (alert === null || TLS_ALERTS[alert[1]] === undefined) return undefined;
  const alertMessage = alert[1].toLowerCase();
  // Once the request may have gone, only the alerts of a server checking the client's side of
  // a TLS 1.3 handshake say it was never taken. Any other (bad_record_mac, internal_error,
  // decode_error, user_canceled…) ends a session whose application may have read the request
  // and acted on it: taken for a refused handshake, a POST it had read was sent again to the
  // next target. It is a connection ended before the head, as any other drop at that stage.
  if (stage !== 'not_sent' && !CLIENT_FLIGHT_ALERTS.has(TLS_ALERTS[alert[1]]))
    return new Failure(
      'connection_terminated',
      `connection ended by the upstream with TLS alert ${alertMessage} before the response head ${after}`,
      { stage, cause: err },
    );
  return new Failure('tls_alert_received', `TLS alert ${alertMessage} received ${after}`, {
    stage: 'not_sent',
    unprocessed: true,
    cause: err,
    params: { alertId: TLS_ALERTS[alert[1]], alertMessage },
    // ALPN refused (RFC 7301 §3.2): the protocol, not the TLS settings in general, is what to fix.
    ...(alertMessage === 'no_application_protocol' ? { variant: 'alpn_refused' as const } : {}),
  });
}

/**
 * A connection that ended before the response head: the TLS alert that ended it when there was
 * one (tlsAlertFailure), else `connection_terminated` at `stage` with `details`.
 */
export function connectionDropped(err: unknown, details: string, after: string, stage: Stage): Failure {
  return (
    tlsAlertFailure(err, after, stage) ??
    new Failure('connection_terminated', `${details} ${after}`, { stage, cause: err ?? undefined })
  );
}

/** The DNS response code a code of node:dns's own resolver (c-ares) stands for. */
const RESOLVER_RCODES: Readonly<Record<string, string>> = {
  ENOTFOUND: 'NXDOMAIN',
  ESERVFAIL: 'SERVFAIL',
  EREFUSED: 'REFUSED',
  ENOTIMP: 'NOTIMP',
  EFORMERR: 'FORMERR',
};

/**
 * A question node:dns's resolver (DNS discovery's) could not answer, by its code: `dns_timeout`
 * when no server answered, else `dns_error` with the response code the code stands for (none
 * claimed for a code that is no response code). `question` names what was asked; `tail` follows
 * the details.
 */
export function classifyResolverCode(code: string, question: string, tail = ''): Failure {
  if (code === 'ETIMEOUT')
    return new Failure('dns_timeout', `no DNS answer for ${question} in time (ETIMEOUT)${tail}`);
  const rcode = RESOLVER_RCODES[code];
  return rcode === undefined
    ? new Failure('dns_error', `the DNS lookup of ${question} failed (${code})${tail}`)
    : new Failure('dns_error', `the DNS lookup of ${question} failed (${rcode})${tail}`, {
        params: { rcode },
      });
}

/** The gateway ran out of what a connection needs: it passes as they are freed (Retry-After: 1). */
function exhausted(details: string, cause: unknown): Failure {
  return new Failure('proxy_resources_exhausted', details, { retryAfter: 1, cause });
}

const LOCAL_REFUSALS: Readonly<Record<string, string>> = {
  EACCES: "the gateway's machine forbids connecting to the upstream: a prohibit route or a security policy",
  EPERM: "the gateway's machine forbids connecting to the upstream: a firewall rule drops it",
  EINVAL:
    "the gateway's machine has no usable route to the upstream: a blackhole route, or an address it cannot reach",
};

/** A failure while opening the connection: nothing of the request was sent. */
export function classifyConnectError(err: unknown, phase: ConnectPhase, elapsed: number): Failure {
  if (err instanceof Failure) return err;
  const code = codeOf(err);
  const after = `after ${ms(elapsed)}`;
  const init = { cause: err };
  if (phase === 'dns') return dnsFailure(code, after, init);
  switch (code) {
    case 'ECONNREFUSED':
      return new Failure('connection_refused', `connection refused (ECONNREFUSED) ${after}`, init);
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EHOSTDOWN':
    case 'ENETDOWN':
      return new Failure('destination_ip_unroutable', `no route to the upstream (${code}) ${after}`, init);
    // The gateway's machine itself let no packet leave: a `prohibit` route (EACCES), a `blackhole`
    // one (EINVAL), a firewall rule that drops (EPERM). No connection, never a reset.
    case 'EACCES':
    case 'EPERM':
    case 'EINVAL':
      return new Failure('destination_ip_unroutable', `${LOCAL_REFUSALS[code]} (${code}) ${after}`, init);
    // The gateway's own machine, not the target: judged against none (proxy_resources_exhausted).
    case 'EADDRNOTAVAIL':
      return exhausted(
        `no local port left to connect from (EADDRNOTAVAIL: the ephemeral port range is in use) ${after}`,
        err,
      );
    case 'EMFILE':
    case 'ENFILE':
      return exhausted(`no file descriptor left for the connection (${descriptorLimit(code)}) ${after}`, err);
    case 'ENOBUFS':
    case 'ENOMEM':
      return exhausted(`no memory left for the connection's socket (${code}) ${after}`, err);
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return new Failure('connection_timeout', `connect timed out (${code}) ${after}`, init);
  }
  const tlsFailure = tlsHandshakeFailure(err, code, phase, after, init);
  if (tlsFailure !== undefined) return tlsFailure;
  return new Failure(
    'connection_terminated',
    `connection failed while opening (${code || 'closed'}) ${after}`,
    init,
  );
}

/** A name lookup that failed: what the resolver said, and no rcode claimed that none said. */
function dnsFailure(code: string, after: string, init: { cause: unknown }): Failure {
  // The process out of descriptors fails the lookup under another name (glibc's getaddrinfo
  // says ENOTFOUND or EBUSY, with no descriptor for /etc/hosts or its socket): the gateway's
  // own want, judged against no target, never a name that does not resolve.
  const want = outOfDescriptors();
  if (want !== undefined)
    return exhausted(
      `no file descriptor left for the name lookup (${descriptorLimit(want)}; the resolver said ${code || 'nothing'}) ${after}`,
      init.cause,
    );
  // Node gives the system resolver's (getaddrinfo's) EAI_NONAME and EAI_NODATA both as
  // ENOTFOUND: a name that does not exist (NXDOMAIN) and one that exists without address
  // records (NOERROR, no data) read alike, so no rcode is claimed for it.
  if (code === 'ENOTFOUND' || code === 'EAI_NONAME')
    return new Failure(
      'dns_error',
      `name does not resolve: no such name, or no address records for it (${code}) ${after}`,
      init,
    );
  if (code === 'ENODATA')
    return new Failure('dns_error', `name has no address records (${code}) ${after}`, {
      ...init,
      params: { rcode: 'NOERROR' },
    });
  // The system resolver (getaddrinfo) says EAI_AGAIN both for a SERVFAIL and for a resolver
  // that never answered, and gives no code for the rest: no rcode is claimed that none said.
  if (code === 'EAI_AGAIN')
    return new Failure(
      'dns_error',
      `name lookup failed for now (EAI_AGAIN: the resolver answered SERVFAIL, or not in time) ${after}`,
      init,
    );
  return new Failure('dns_error', `name lookup failed (${code || 'unknown'}) ${after}`, init);
}

/** A TLS handshake that failed: the certificate, an alert, a peer that is no TLS server, or the rest; undefined for none. */
function tlsHandshakeFailure(
  err: unknown,
  code: string,
  phase: ConnectPhase,
  after: string,
  init: { cause: unknown },
): Failure | undefined {
  const problem = certificateProblem(err, code);
  if (problem !== undefined)
    return new Failure('tls_certificate_error', `certificate rejected: ${problem} ${after}`, init);
  const alert = tlsAlertFailure(err, after);
  if (alert !== undefined) return alert;
  // Node names a FIN before the handshake ended ECONNRESET too, without the read that a reset
  // failed in (its syscall): told apart, as nginx's "peer closed connection in SSL handshake".
  if (phase === 'tls' && code === 'ECONNRESET')
    return new Failure(
      'tls_protocol_error',
      (err as NodeJS.ErrnoException).syscall === undefined
        ? `TLS handshake failed: the upstream closed the connection before the handshake was done (it may refuse the SNI name, or speak no TLS) ${after}`
        : `TLS handshake failed: the upstream reset the connection during the handshake (${code}) ${after}`,
      init,
    );
  // OpenSSL's words for a first record whose version bytes are no TLS version's: what came back
  // was not TLS at all, most often a plain HTTP server's 400 to the ClientHello.
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER')
    return new Failure(
      'tls_protocol_error',
      `TLS handshake failed: the upstream answered the ClientHello with something that is not TLS (a plain HTTP server? ${code}) ${after}`,
      init,
    );
  if (phase === 'tls' || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) {
    return new Failure('tls_protocol_error', `TLS handshake failed (${code || 'closed'}) ${after}`, init);
  }
  return undefined;
}

/**
 * A failure once the connection existed. `stage` says how far the exchange got; after the
 * head went downstream every failure is either a cut-short body or a stalled one.
 */
export function classifyExchangeError(err: unknown, stage: Stage, elapsed: number): Failure {
  if (err instanceof Failure) return err.at(stage);
  // An exception thrown by the gateway's own code is a bug, not a failure of the upstream,
  // and must not be reported as one.
  if (codeOf(err) === '') {
    return new Failure('proxy_internal_error', 'internal error while proxying', { stage, cause: err });
  }
  const init = { stage, cause: err };
  const after = `after ${ms(elapsed)}`;
  if (stage === 'head_received' || stage === 'body_streaming') {
    return new Failure(
      'http_response_incomplete',
      `response body cut short: ${describeDrop(err)} ${after}`,
      init,
    );
  }
  return connectionDropped(err, `${describeDrop(err)} before the response head`, after, stage);
}

/** How a connection went away, from its socket error (none: the peer closed it). */
export function describeDrop(err: unknown): string {
  if (err === undefined || err === null) return 'connection closed by the upstream';
  const code = codeOf(err);
  if (code === 'ECONNRESET') return 'connection reset (ECONNRESET)';
  if (code === 'EPIPE') return 'connection broken while writing (EPIPE)';
  return `connection lost (${code || (err as Error)?.message || 'unknown'})`;
}

/** The connection ended in a TCP reset (the log's `upstream_reset`). */
export function isReset(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ECONNRESET';
}

/**
 * The client's request body broke while Candor read it: a client that went away (client_closed), or
 * a body that could not be read (400). The fault is downstream, never the upstream's.
 */
export function classifyRequestBodyError(err: NodeJS.ErrnoException, stage: Stage): Failure {
  if (err.code === 'ECONNRESET' || err.code === 'ECONNABORTED') {
    // HTTP/2 says how the client left: its stream reset, its connection up (h2-body.ts).
    const how = (err as { clientLeft?: string }).clientLeft ?? 'client closed the connection';
    return new Failure('client_closed', `${how} while sending the body`, { stage });
  }
  // The server says what the client got wrong (a stalled body is a 408); broken framing is a 400.
  const status = (err as { status?: unknown }).status;
  if (typeof status === 'number' && status >= 400 && status < 500 && status !== 400)
    return new Failure('http_request_error', err.message, { status, stage });
  // Candor's own HTTP/1.1 parser said what broke (an HPE_ code with its words, as a head's
  // refusal says it): its words, not its code alone, whichever read brought the bad bytes.
  if (err.code?.startsWith('HPE_') && err.message !== '' && err.message !== err.code)
    return new Failure('http_request_error', `request body could not be read (${err.code}): ${err.message}`, {
      status: 400,
      stage,
    });
  return new Failure('http_request_error', `request body could not be read (${err.code ?? err.message})`, {
    status: 400,
    stage,
  });
}
