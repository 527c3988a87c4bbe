import { withCredentialsMasked } from '../../core/credential-names.ts';
import { Failure } from '../../core/failure/failure.ts';
import type { RequestHead, RequestParseError } from '../../core/http1/parsed-request.ts';
import { MAX_AUTHORITY_LENGTH } from '../../core/http1/request-rules.ts';
import { firstField, joinedField } from '../../core/net/downstream.ts';

/** A request the server refused (HTTP/1.1's parser, or HTTP/2's checks), as the taxonomy names it: a client error with its status. */
export function refusalFailure(error: RequestParseError): Failure {
  return new Failure('http_request_error', error.details, { status: error.status });
}

/**
 * What a refused request's answer and log line say of it: facts about a request that never
 * became an exchange (its head was refused, or never came whole).
 */
export interface RawRequestInfo {
  readonly method: string;
  readonly path: string;
  readonly host: string | undefined;
  readonly accept: string | undefined;
  readonly requestId: string | undefined;
  /** HTTP/1.0 or HTTP/1.1 when the request line said so (the log's `protocol`), else undefined. */
  readonly protocol: string | undefined;
  /** The client's trace context, its lines joined as one (two are no parent): continued when valid, as a routed request's. */
  readonly traceparent: string | undefined;
  readonly tracestate: string | undefined;
  /** For the server span's `user_agent.original`. */
  readonly userAgent: string | undefined;
}

/**
 * The most of a target past the limits that its log line (and the record) keeps: what the
 * client sent over `limits.uri_length` is the fault, not a path to read whole, and one line a
 * request should not carry up to `limits.header_size` of a client's bytes.
 */
export const LOGGED_TARGET_MAX = 256;

/** The most of a value a span keeps (spans.ts cuts its attributes to it). */
const SPAN_VALUE_MAX = 1024;

/**
 * A request target as its record keeps it: whole within `limits.uri_length`, else its first 256
 * characters; a credential's value in its query (`?api_key=…`, `?access_token=…`) as `***`: the
 * record is what the log line, the span and a plugin's onEnd quote (RFC 6750 §2.3).
 */
export function loggedTarget(target: string, uriLength: number): string {
  const kept = withCredentialsMasked(target.length > uriLength ? target.slice(0, LOGGED_TARGET_MAX) : target);
  // An origin-form target (most) begins with `/` and holds no userinfo.
  return kept.charCodeAt(0) === 0x2f || !kept.includes('@') ? kept : withoutPassword(kept);
}

/** A target a parser refused, as its record keeps it: its first 256 characters, no password. */
export function refusedTarget(target: string): string {
  return loggedTarget(target, LOGGED_TARGET_MAX);
}

/**
 * A host as its record keeps it: whole when it could be sound (no authority past
 * MAX_AUTHORITY_LENGTH is), else its first that many characters, so that a Host refused for its
 * length does not put the whole head into the log line that says so.
 */
export function loggedHost(host: string): string {
  const kept = host.length > MAX_AUTHORITY_LENGTH ? host.slice(0, MAX_AUTHORITY_LENGTH) : host;
  return kept.includes('@') ? withoutPassword(kept) : kept;
}

/**
 * The userinfo's password (`http://user:secret@host/`, a Host `user:secret@host`) up to the
 * authority's last `@` (a password may hold one), its end at the first `/`, `?` or `#`.
 */
const USERINFO_PASSWORD = /^((?:[A-Za-z][A-Za-z0-9+.-]*:)?(?:\/\/)?[^/?#@:]*):[^/?#]*@/;

/**
 * A target or Host with the password of its userinfo as `***`, the user name kept, as the
 * config's URLs are shown. Such a request is refused (RFC 9110 §4.2.4: userinfo is an error,
 * it would go upstream as Host), but its log line, span and plugins' onEnd quoted the secret
 * the client sent in the clear to whoever reads the log.
 */
function withoutPassword(text: string): string {
  return text.replace(USERINFO_PASSWORD, '$1:***@');
}

/** A head that parsed, refused with the body's framing in the same read. */
export function requestInfo(head: RequestHead): RawRequestInfo {
  return {
    method: head.method,
    path: head.target,
    host: firstField(head.headers, 'host'),
    // A list over several lines is one (RFC 9110 §5.3), as a routed request's error reads it.
    accept: joinedField(head.headers, 'accept'),
    // Its lines joined, as a routed request's fields read them (fieldMap): two ids are no one id
    // (isSafeRequestId refuses the list), where the first would be adopted from a trusted proxy.
    requestId: joinedField(head.headers, 'x-request-id'),
    protocol: head.versionMinor === 0 ? 'HTTP/1.0' : 'HTTP/1.1',
    traceparent: joinedField(head.headers, 'traceparent'),
    tracestate: joinedField(head.headers, 'tracestate'),
    userAgent: firstField(head.headers, 'user-agent'),
  };
}

/** A head as far as it came (latin1), refused before it parsed: read for what it names. */
export function rawRequestInfo(raw: string): RawRequestInfo {
  const requestLine = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+)/.exec(raw);
  return {
    // Whatever its length (a 501's method past any the gateway knows): a method of 33 characters
    // or more read as none, and the line lost its path too. Kept as a target past the limit is.
    method: requestLine?.[1]?.slice(0, LOGGED_TARGET_MAX) ?? '',
    path: requestLine?.[2] ?? '',
    host: headerIn(raw, 'host'),
    accept: listIn(raw, 'accept'),
    requestId: listIn(raw, 'x-request-id'),
    // A request line that came whole names its version, even when what follows was refused
    // (HTTP/1.2 and above read as HTTP/1.1, as the parser reads them: RFC 9112 §2.3).
    protocol: protocolOf(/^\S+ \S+ HTTP\/1\.([0-9])\r?\n/.exec(raw)?.[1]),
    traceparent: listIn(raw, 'traceparent'),
    // As far as a span's attribute keeps (1024 characters): a tracestate past 512 is dropped whole.
    tracestate: listIn(raw, 'tracestate', SPAN_VALUE_MAX),
    userAgent: headerIn(raw, 'user-agent', SPAN_VALUE_MAX),
  };
}

/** The protocol an HTTP/1 minor version digit is read as (undefined: the line did not come whole). */
function protocolOf(minor: string | undefined): RawRequestInfo['protocol'] {
  return minor === undefined ? undefined : minor === '0' ? 'HTTP/1.0' : 'HTTP/1.1';
}

/** A list field's lines from the raw bytes of a refused head, joined as one (at most `max` characters). */
function listIn(raw: string, name: string, max = 256): string | undefined {
  let value: string | undefined;
  for (const m of raw.matchAll(new RegExp(`\\r\\n${name}:[ \\t]*([^\\r\\n]*)`, 'gi'))) {
    value = value === undefined ? m[1] : `${value}, ${m[1]}`;
    if (value.length >= max) break;
  }
  return value?.slice(0, max);
}

/** A header's value from the raw bytes of a refused head, when they hold it (at most `max` characters). */
function headerIn(raw: string, name: string, max = 256): string | undefined {
  const m = new RegExp(`\\r\\n${name}:[ \\t]*([^\\r\\n]*)`, 'i').exec(raw);
  return m?.[1]?.slice(0, max);
}
