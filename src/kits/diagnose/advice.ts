/**
 * The fix that fits what the probe found, in one or two plain sentences that name the
 * address, the timeout, the certificate or the service on the port. Where the probe knows
 * nothing more specific, the taxonomy's own fix is the answer.
 */
import type { Failure } from '../../core/failure/failure.ts';
import {
  isMalformedProxyStatus,
  type ProxyStatusMember,
  readProxyStatusMembers,
} from '../../core/failure/proxy-status.ts';
import { FAILURES } from '../../core/failure/taxonomy.ts';
import { hostPort } from '../../core/net/host-port.ts';
import { retryAfterMs } from '../../core/retry/retry-after.ts';
import { fieldValues, INTERIM_FLOOD } from './answer-reader.ts';
import { chainRuleFix, clientCertificateAlertFix } from './certificate-advice.ts';
import type { ProbeContext } from './context.ts';
import { portalHint } from './identify.ts';
import { strayFix } from './stray-bytes.ts';

export function adviseFix(context: ProbeContext, failure: Failure): string {
  const mismatch = protocolMismatch(context);
  if (mismatch !== undefined) return mismatch;
  const { plan, identification: found } = context;
  if (found?.what === 'a TLS server' && plan.protocol === 'http:')
    return `something else is on that port: a TLS server (${found.evidence}). Use https:// in the target URL.`;
  const overHttp2 = plan.httpVersion === 'http1' ? undefined : http2Fix(context, failure);
  if (overHttp2 !== undefined) return overHttp2;
  return reachFix(context, failure) ?? answerFix(context, failure);
}

/** A failure on the way to the upstream (DNS, TCP, TLS); undefined for any other. */
function reachFix(context: ProbeContext, failure: Failure): string | undefined {
  const { plan, identification: found } = context;
  const { where, elsewhere } = placeOf(context);
  switch (failure.type) {
    case 'dns_error':
      if (failure.params.rcode === 'NXDOMAIN')
        return `the name ${plan.hostname} does not exist (NXDOMAIN). Fix the host name in the target URL, or create its DNS record.`;
      if (failure.params.rcode === 'NOERROR')
        return `the name ${plan.hostname} exists but has no address records. Add an A or AAAA record, or fix the host name.`;
      // The system resolver's ENOTFOUND: no such name, or none of its address records (no rcode says which).
      if ((failure.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOTFOUND')
        return `the name ${plan.hostname} does not resolve: it does not exist, or has no address records. Fix the host name in the target URL, or create its A or AAAA record.`;
      return `the lookup of ${plan.hostname} failed (${failure.details}). Check the resolver this machine and the gateway use.`;
    case 'dns_timeout':
      return `the resolver did not answer for ${plan.hostname} within the ${plan.timeouts.connect} ms connect timeout. Check that the resolver is reachable and answering.`;
    case 'connection_refused':
      return `nothing listens on ${where}. Start the upstream, or fix the port in the target URL.`;
    case 'destination_ip_unroutable':
      return `there is no route to ${context.address ?? plan.hostname} (${failure.details}). Check the address in the target URL, and the routing and firewall on the way.`;
    case 'connection_timeout':
      if (/^TLS/.test(failure.details))
        return `the TCP connection to ${where} opened, but the TLS handshake did not finish within the ${plan.timeouts.connect} ms connect timeout: the server there does not speak TLS, or is overloaded.`;
      return `nothing answered the connection to ${where} within the ${plan.timeouts.connect} ms connect timeout: the host is down, a firewall drops the packets, or the process no longer accepts connections.`;
    case 'tls_certificate_error':
      return certificateFix(context, failure);
    case 'tls_protocol_error':
      if (found?.what === 'a plain HTTP server')
        return `the upstream speaks plain HTTP on ${where}, not TLS (${found.evidence}). Use http:// in the target URL, or enable TLS on the upstream.`;
      if (found) return `${elsewhere} Point the target at the HTTPS service's port.`;
      return failure.kind.fix;
    case 'tls_alert_received':
      return (
        clientCertificateAlertFix(failure.params.alertMessage, plan.tls.cert !== undefined) ??
        `the upstream ended the TLS handshake with the alert "${failure.params.alertMessage}". ${failure.kind.fix}`
      );
    default:
      return undefined;
  }
}

/** What the upstream did with the request: no answer, an invalid one, one cut short. */
function answerFix(context: ProbeContext, failure: Failure): string {
  const { plan, identification: found, body, head } = context;
  const { where, elsewhere } = placeOf(context);
  switch (failure.type) {
    case 'http_response_timeout': {
      const field =
        plan.timeouts.upstreamAnswer === undefined ? 'timeouts.response' : 'retries.per_try_timeout';
      const which =
        field === 'timeouts.response'
          ? 'the response timeout'
          : "the upstream's retries.per_try_timeout, each attempt's wait";
      const interim = /, only (\d+) interim \(1xx\) answers?/.exec(failure.details);
      if (interim)
        return `the upstream took the request and sent ${interim[1]} interim (1xx) ${interim[1] === '1' ? 'answer' : 'answers'}, but no final response head in ${plan.timeouts.answer} ms (${which}): it is alive, and stuck or slow in its handler. Find what it waits on (a slow query, a lock, CPU); raise ${field} only if the work is legitimately that slow.`;
      return `the upstream took the request but sent no response head in ${plan.timeouts.answer} ms (${which}): it is too slow or stuck. Find what it waits on (a slow query, a lock, CPU); raise ${field} only if the work is legitimately that slow.`;
    }
    case 'connection_terminated': {
      const how = /reset|ECONNRESET/.test(failure.details) ? 'reset' : 'closed';
      // Cut while it opened: no byte of the request went, so no request of it is in its logs.
      if (!failure.reachedUpstream)
        return `the upstream at ${where} accepted the TCP connection, then ${how} it before the request was sent: its accept queue overflowed, or what listens there takes connections and drops them (a proxy or balancer with nothing behind it, a connection limit). Check what listens on that port and its connection limits.`;
      // A hang-up with no byte is what a crash looks like, and just as much a service that is no
      // HTTP one (Redis closes on a request's `Host:` line, taking it for an attack): say both.
      return `the upstream ${how} the connection after taking the request, without an answer: it is crashing or restarting, or what listens on ${where} does not speak HTTP (a database, a cache, a broker: Redis, for one, hangs up on an HTTP request without a word). Look in its own logs${requestIdText(context)} for a crash, an OOM kill or a restart, and check which service listens on port ${plan.port}.`;
    }
    case 'http_protocol_error': {
      // An HTTP server, not "something else on that port": its 1xx heads (InterimHeads) never end.
      const flood = INTERIM_FLOOD.exec(failure.details);
      if (flood)
        return `the upstream sent ${flood[1]} interim (1xx) answers and no final one, past the gateway's response head limit (32 KiB): it speaks HTTP, but never ends its 103 Early Hints or 100 Continue. Fix it to send its final answer after them; look in its own logs${requestIdText(context)}.`;
      if (found?.what.startsWith('an HTTP server with'))
        return `the upstream speaks HTTP, but its response head is invalid (${failure.details}: "${context.badLine ?? found.evidence}"). Fix the response head it writes.`;
      if (found?.what === 'a raw stack trace')
        return `the upstream app crashed and wrote a stack trace to the socket instead of a response (${sent(found.evidence)}). Fix the crash; its own logs have the whole trace.`;
      if (found?.what === 'a bare JSON document')
        return `the upstream writes a bare JSON document to the socket (${sent(found.evidence)}), without a status line or headers: it does not speak HTTP. Point the target at the HTTP port, or fix the server.`;
      if (found?.what === 'an HTML page without a status line')
        return `an HTML page comes back with no status line or headers (${sent(found.evidence)}): a captive portal or an HTTP/0.9 server answers, not your app. Check what intercepts the connection, or what listens on that port.`;
      if (found) return `${elsewhere} Point the target at the HTTP service's port, or move that service.`;
      return failure.kind.fix;
    }
    case 'http_response_header_section_size': {
      const largest = context.largestField;
      // A field the read stopped inside is longer than what came of it: say so, not a size it lacks.
      const size = largest?.cut
        ? `at least ${largest.bytes} bytes: the probe stopped reading inside it`
        : `${largest?.bytes} bytes`;
      const field = largest ? ` The largest field is ${largest.name} (${size}).` : '';
      return `the upstream's response head is over the gateway's limit (32 KiB).${field} ${failure.kind.fix}`;
    }
    case 'http_response_incomplete': {
      const stream = /stream reset by the upstream \((\w+)\)/.exec(failure.details)?.[1];
      const how =
        stream !== undefined
          ? `reset the stream (${stream})`
          : `${/reset/i.test(failure.details) ? 'reset' : 'closed'} the connection`;
      const of = body?.expected === undefined ? '' : ` of ${body.expected}`;
      return `the upstream sent the ${head?.status ?? ''} head and ${body?.bytes ?? 0}${of} body bytes, then ${how}: it is crashing mid-response. Look in its own logs${requestIdText(context)} for a crash, an OOM kill or a restart.`;
    }
    case 'http_response_transfer_coding':
    case 'http_response_content_length':
      return framingFix(failure);
    case 'connection_read_timeout':
      return `the upstream sent the head and ${body?.bytes ?? 0} body bytes, then nothing for ${plan.timeouts.read} ms (the read timeout): it stalls mid-response. Find what it waits on, or raise timeouts.read for streaming routes.`;
    default:
      return `${failure.details.replace(/^invalid response: /, 'the response is invalid: ')}. ${failure.kind.fix}`;
  }
}

/** The upstream's host:port, and the sentence naming what a second look found there instead. */
function placeOf({ plan, address, identification: found }: ProbeContext) {
  return {
    where: hostPort(address ?? plan.hostname, plan.port),
    elsewhere: found ? `something else is on that port: ${found.what} (${sent(found.evidence)}).` : '',
  };
}

/** A response whose transfer coding or length cannot be relayed, said for what broke it. */
function framingFix(failure: Failure): string {
  // The details are the gateway's parser's words (src/core/http1/answer-parser.ts).
  const what = failure.details;
  if (/^unsupported transfer coding|does not end in chunked|more than \d+ transfer codings/.test(what))
    return `the upstream's response uses a transfer coding Candor cannot relay (${what}): it relays chunked or Content-Length framing, and undoes gzip or deflate under chunked. Compress with Content-Encoding instead, or send the body plain.`;
  // The transfer decoder's words (src/core/http1/transfer-decoder.ts): framed whole, not valid as coded.
  const coding = /^invalid (\w+) transfer coding: /.exec(what)?.[1];
  if (coding !== undefined)
    return `the upstream's body is not valid ${coding}, though its Transfer-Encoding says it is (${what}): Candor undoes that coding and aborts the transfer where it fails. Fix the upstream's compression, or compress with Content-Encoding instead (passed on as it is), or send the body plain.`;
  if (/HTTP\/1\.0 response/.test(what))
    return `the upstream answers HTTP/1.0 with Transfer-Encoding (${what}), which HTTP/1.0 does not have (RFC 9112 §6.1): its framing cannot be trusted. Make it answer HTTP/1.1 to send chunked bodies, or send Content-Length.`;
  if (/invalid chunk|chunk-size line|after chunk data/.test(what))
    return `the upstream's chunked body is malformed (${what}): each chunk is its size in hex, CRLF, that many bytes, CRLF, and a 0 chunk ends the body. Fix the code that writes the chunks (a body written past the framing, a size that does not match its data), or send Content-Length.`;
  return `the upstream's response framing is broken: ${what}. ${failure.kind.fix}`;
}

/**
 * What only HTTP/2 says before a head: a GOAWAY or a refused stream (the request was never
 * processed: the gateway retries it, whatever the method), a stream reset, a request for
 * HTTP/1.1, or a target that never answered the preface. The details are the gateway's own
 * words (classifyH2StreamEnd in src/core/failure/h2-stream-end.ts).
 */
function http2Fix(context: ProbeContext, failure: Failure): string | undefined {
  const { details } = failure;
  const goaway = /sent GOAWAY \((\w+), last stream (\d+)\) before processing/.exec(details);
  if (goaway)
    return `the upstream said GOAWAY (${goaway[1]}, last stream ${goaway[2]}) before processing the request: it is shutting down or restarting. The gateway retries a request the upstream never processed, on another connection, whatever its method; if every probe meets this, the upstream is stuck going away: look in its own logs, or restart it.`;
  if (/refused the stream \(REFUSED_STREAM\)/.test(details))
    return `the upstream refused the stream without processing it (REFUSED_STREAM): it is at its own limit of concurrent streams, or sheds load. The gateway retries such a request, whatever its method; if every probe meets this, it refuses all work: look at its load and its stream limit.`;
  if (/HTTP_1_1_REQUIRED/.test(details))
    return `the upstream asks for HTTP/1.1 for this request (HTTP_1_1_REQUIRED). Set the upstream's protocol to http1.`;
  const reset = /stream reset by the upstream \((\w+)\) before the response head/.exec(details);
  if (reset)
    return `the upstream reset the stream (${reset[1]}) after taking the request, without an answer: its handler failed or gave up. Look in its own logs${requestIdText(context)} for this request.`;
  const closed =
    /closed the HTTP\/2 connection \(GOAWAY (\w+), last stream \d+\) before the response head/.exec(details);
  if (closed)
    return `the upstream closed the HTTP/2 connection (GOAWAY ${closed[1]}) after taking the request, without an answer: it is crashing or restarting, or took the client for a misbehaving one (the GOAWAY's code says which). Look in its own logs${requestIdText(context)}.`;
  if (/stream was reset PROTOCOL_ERROR before the response head/.test(details))
    return `the upstream speaks HTTP/2, but the stream ended in PROTOCOL_ERROR before the response head: its head breaks HTTP/2's rules (no :status or one that is no number, a connection-specific field, an upper-case name, a content-length that is not one number, or one on a 1xx or 204), or it found the request malformed. Look in its own logs${requestIdText(context)} for this request, and at the code that writes its response head.`;
  // Its SETTINGS came: an HTTP/2 server, not another service, cut the connection without a word.
  if (failure.type === 'connection_terminated' && context.h2Settings === true) {
    const how = /reset|ECONNRESET/.test(details) ? 'reset' : 'closed';
    return `the upstream ${how} its HTTP/2 connection, without a GOAWAY, after taking the request and before an answer: it is crashing or restarting. Look in its own logs${requestIdText(context)} for a crash, an OOM kill or a restart.`;
  }
  if (failure.type === 'http_response_timeout' && context.h2Settings === false) {
    const speaks = context.plan.httpVersion === 'h2c' ? 'HTTP/2 in the clear (h2c)' : 'HTTP/2';
    return `the target took the connection but never answered the HTTP/2 connection preface (no SETTINGS frame in ${context.plan.timeouts.answer} ms): it does not speak ${speaks}, or it is stuck. Check what serves this port; if it speaks HTTP/1.1, set the upstream's protocol to http1.`;
  }
  return undefined;
}

function certificateFix(context: ProbeContext, failure: Failure): string {
  const cert = context.tls?.certificate;
  const code = context.tls?.verifyError ?? '';
  if (!cert) return failure.kind.fix;
  if (code === 'CERT_HAS_EXPIRED')
    return `the upstream's certificate (${cert.subject}) expired on ${cert.validTo}. Renew it on the upstream.`;
  if (code === 'CERT_NOT_YET_VALID')
    return `the upstream's certificate (${cert.subject}) is valid only from ${cert.validFrom}. Check the clocks, or the certificate's dates.`;
  const name = `the upstream's certificate is for ${cert.subjectAltName || cert.subject}, not for "${cert.checkedName}". Use a certificate with that name, or set tls.servername to a name it covers.`;
  const trust = `not signed by a CA this machine trusts (${code}). Give the gateway that CA (tls.ca in the config; --ca here), or use a certificate from a trusted CA.`;
  // A chain that breaks a rule of its CA (a path too long, a certificate not for servers) is not
  // one whose CA is missing: giving the gateway the CA, done already, would change nothing.
  const rule = chainRuleFix(code);
  if (!cert.hostnameMatch || code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    // Node names the chain's fault alone when the name is wrong too: the fix says both, since
    // either one left is the same 502.
    if (code === '' || code === 'ERR_TLS_CERT_ALTNAME_INVALID') return name;
    return rule === undefined ? `${name} It is also ${trust}` : `${name} Its chain is refused too: ${rule}`;
  }
  if (rule !== undefined) return `the upstream's certificate (issued by ${cert.issuer}) is refused: ${rule}`;
  return `the upstream's certificate (issued by ${cert.issuer}) is ${trust}`;
}

/**
 * The fix for a gateway's refusal of the client (`http_request_denied`), by its status: a rate
 * limit's 429 is waited out (its Retry-After), a 401 or 403 is no matter of waiting.
 */
export function deniedFix(status: number, retryAfter: readonly string[]): string {
  if (status === 429) {
    const value = retryAfter.join(', ').trim();
    const when = value === '' ? '' : /^\d+$/.test(value) ? ` (${value} s)` : ` (${value.slice(0, 100)})`;
    return `Slow down: wait for the time in Retry-After${when} before trying again.`;
  }
  return "The route's access rules refuse this client (a 401: credentials missing or refused; a 403: this client may not use the route): send valid credentials, or ask the gateway's operators.";
}

/** `it sent "…"`, without doubling the quotes of text that has its own. */
function sent(evidence: string): string {
  return evidence.includes('"') ? `it sent ${evidence}` : `it sent "${evidence}"`;
}

function requestIdText(context: ProbeContext): string {
  return context.requestId ? ` (x-request-id ${context.requestId})` : '';
}

/** The fix when the upstream answered with a valid response. */
export function adviseAnswer(context: ProbeContext, status: number): string {
  const { head, body } = context;
  if (!head) return '';
  if (status >= 500) {
    const later = retryAfterWords(fieldValues(head, 'retry-after'));
    // A proxy there made this answer, and its Proxy-Status says for which hop behind it.
    const made = madeByProxy(head, status);
    if (made?.error) {
      const who =
        made.passedOnBy === undefined
          ? `the target is a proxy ("${made.proxy}")`
          : `the target ("${made.passedOnBy}") passes on the answer of a proxy behind it ("${made.proxy}")`;
      return `${who} that could not reach its own next hop${made.nextHop ? ` "${made.nextHop}"` : ''}: ${made.error}${made.details ? ` (${made.details})` : ''}. Fix that hop (candor diagnose its address), or read ${made.passedOnBy === undefined ? "the proxy's" : `"${made.proxy}"'s`} log for this request${requestIdText(context)}.${later}`;
    }
    return `the upstream itself reports the failure: read its own logs for this request${requestIdText(context)}.${later}`;
  }
  // A proxy there answered by a rule of its own (a limit, an access rule, no route): its fix,
  // never "none needed" of an answer no upstream made.
  const own = madeByProxy(head, status);
  if (own?.error) {
    const fix =
      own.error === 'http_request_denied'
        ? deniedFix(status, fieldValues(head, 'retry-after'))
        : FAILURES[own.error].fix;
    return `the proxy "${own.proxy}" reports "${own.details ?? '(no details)'}". ${fix}`;
  }
  // nginx answers plain HTTP on its TLS port with this 400, to every request: the scheme is wrong.
  if (
    status === 400 &&
    context.plan.protocol === 'http:' &&
    /The plain HTTP request was sent to HTTPS port/i.test(body?.sniff.toString('latin1') ?? '')
  )
    return 'the target is an HTTPS port: it answers every plain HTTP request 400 "The plain HTTP request was sent to HTTPS port" (nginx, on a listen … ssl port). Use https:// in the target URL.';
  const hint = portalHint(
    status,
    fieldValues(head, 'content-type').join(', '),
    body?.sniff ?? Buffer.alloc(0),
  );
  if (hint)
    return `the answer looks like ${hint}: something between this machine and the upstream intercepts the request. Check the proxies, VPN or portal on the way.`;
  return strayFix(context) ?? 'none needed: the upstream answers as an HTTP server should.';
}

/**
 * What an answer's Retry-After asks of its clients, as they read it (RFC 9110 §10.2.3): a
 * value that is neither delay-seconds nor an HTTP-date (`soon`, two fields of a singleton, read
 * together as a client reads them) asks nothing, and a date past asks no wait; neither is
 * quoted as a time to wait.
 */
function retryAfterWords(values: readonly string[]): string {
  if (values.length === 0) return '';
  const value = values.join(', ');
  const ms = retryAfterMs(value);
  if (ms === undefined)
    return ` Its Retry-After ${JSON.stringify(value.slice(0, 100))} is neither delay-seconds nor an HTTP date: clients ignore it.`;
  if (/^\d+$/.test(value.trim())) return ` It asks clients to retry after ${value.trim()} s.`;
  return ms === 0
    ? ` Its Retry-After (${value}) is already past: clients may retry at once.`
    : ` It asks clients to retry after ${value}.`;
}

/**
 * An answer's Proxy-Status when it is there but no structured-field List (RFC 9651 §4.2: a
 * reader ignores it whole), quoted (at most 200 characters) for the verdict to say so.
 */
export function malformedProxyStatus(head: { readonly headers: readonly string[] }): string | undefined {
  const value = fieldValues(head, 'proxy-status').join(', ') || undefined;
  if (value === undefined || !isMalformedProxyStatus(value)) return undefined;
  return JSON.stringify(value.length > 200 ? `${value.slice(0, 200)}…` : value);
}

/**
 * The Proxy-Status member of the proxy that made an answer (`error=`): the last member, or the
 * nearest one before it when each member after it passed this status on (`received-status`), as
 * a CDN in front of a load balancer does; `passedOnBy` then names the nearest proxy.
 */
export function madeByProxy(
  head: { readonly headers: readonly string[] },
  status: number,
): (ProxyStatusMember & { readonly passedOnBy?: string }) | undefined {
  const members = readProxyStatusMembers(fieldValues(head, 'proxy-status').join(', ') || undefined);
  for (let i = members.length - 1; i >= 0; i--) {
    const member = members[i];
    if (member.error !== undefined)
      return i === members.length - 1 ? member : { ...member, passedOnBy: members.at(-1)?.proxy };
    if (member.receivedStatus !== status) return undefined;
  }
  return undefined;
}

/** The target speaks only the protocol the upstream is not configured for: the one fix that matters. */
function protocolMismatch(context: ProbeContext): string | undefined {
  const { plan, protocols } = context;
  if (protocols === undefined) return undefined;
  const h2 = plan.protocol === 'https:' ? 'HTTP/2 (h2, by ALPN)' : 'HTTP/2 (h2c, prior knowledge)';
  if (plan.httpVersion === 'http1' && protocols.http1 === false && protocols.h2 === true) {
    const protocol = plan.protocol === 'https:' ? 'h2' : 'h2c';
    return `the target speaks ${h2} but not HTTP/1.1. Set the upstream's protocol to ${protocol}.`;
  }
  if (plan.httpVersion !== 'http1' && protocols.h2 === false && protocols.http1 === true)
    return `the target speaks HTTP/1.1 but not ${h2}. Set the upstream's protocol to http1 (the default), or enable HTTP/2 on the target.`;
  return undefined;
}
