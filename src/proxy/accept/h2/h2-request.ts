/**
 * An HTTP/2 stream's request as the session reads any request: the head with the method, a
 * target from `:path` (`:authority` for CONNECT), the fields flat with Host from
 * `:authority` (RFC 9113 §8.3.1); the body is h2-body.ts's. nghttp2 has already refused what HTTP/2 forbids (upper-case
 * names, connection-specific fields, a missing pseudo-field, a body longer or shorter than
 * its content-length).
 */
import type { ServerHttp2Stream } from 'node:http2';
import type { RequestParseError } from '../../../core/http1/parsed-request.ts';
import { fieldBreak, methodBreak, type RuleBreak, targetBreak } from '../../../core/http1/request-rules.ts';
import { snippet } from '../../../core/http1/syntax.ts';
import type { ClientCertificate } from '../../../core/net/client-certificate.ts';
import type { ConnectionSni, DownstreamHead } from '../../../core/net/downstream.ts';
import { canonicalIpLiteral } from '../../../core/net/ip-literal.ts';
import { expectsOnlyContinue } from '../request-checks.ts';

/**
 * The head of a request that came over HTTP/2: `protocol` names the wire; the version fields
 * say 1.1, the semantics the session applies to it (RFC 9113 §8: HTTP/2 carries HTTP/1.1's).
 */
export interface H2DownstreamHead extends DownstreamHead {
  readonly protocol: 'HTTP/2';
  readonly streamId: number;
  /** `:scheme` as the client sent it. */
  readonly scheme: string;
  /** The head's size as RFC 9113 §6.5.2 counts a header list: each field's name and value (pseudo-fields too) and 32. */
  readonly headerListSize: number;
}

/** What every stream of one connection shares: read once a connection, not once a stream. */
export interface H2ConnectionFacts {
  readonly remoteAddress: string;
  readonly encrypted: boolean;
  /** The connection's SNI (lower-cased), when it is TLS and the client sent one (servernameOf). */
  readonly sni: ConnectionSni;
  /** The certificate its client presented, where the listener asks for one. */
  readonly clientCertificate: ClientCertificate | undefined;
}

/**
 * The head from the stream's raw fields (flat [name, value, …], pseudo-fields first).
 * `endStream`: the HEADERS frame ended the stream (no body).
 */
export function h2RequestHead(
  raw: readonly string[],
  streamId: number,
  endStream: boolean,
  connection: H2ConnectionFacts,
): H2DownstreamHead {
  let method = '';
  let path = '';
  let scheme = '';
  let authority: string | undefined;
  let host: string | undefined;
  let contentLength: number | undefined;
  let expectContinue = false;
  let cookies: string[] | undefined;
  let headerListSize = 0;
  // Host goes first: its place is kept, and given up in the rare request with neither
  // :authority nor Host (one array a request, not a second one to put Host in front). Made at
  // the size it ends at: grown field by field, it was made twice for a usual request; made at
  // its largest and cut, its length's setter was a call into V8's runtime, and the store kept
  // room for the pseudo-fields (some 80 bytes a stream, held while it is in flight).
  const headers: string[] = new Array(keptLength(raw));
  headers[0] = 'host';
  headers[1] = '';
  let n = 2;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const value = raw[i + 1];
    headerListSize += name.length + value.length + 32;
    if (name.charCodeAt(0) === 58 /* : */) {
      if (name === ':method') method = value;
      else if (name === ':path') path = value;
      else if (name === ':authority') authority = value;
      else if (name === ':scheme') scheme = value;
      continue;
    }
    if (name === 'host') host ??= value;
    // §8.2.3: cookie may come split in several fields; HTTP/1.1 wants one, joined by "; ".
    else if (name === 'cookie') {
      if (cookies === undefined) cookies = [value];
      else cookies.push(value);
    } else {
      if (name === 'content-length') contentLength = Number(value);
      else if (name === 'expect' && expectsOnlyContinue(value)) expectContinue = true;
      headers[n++] = name;
      headers[n++] = value;
    }
  }
  if (cookies !== undefined) {
    headers[n++] = 'cookie';
    headers[n++] = cookies.length === 1 ? cookies[0] : cookies.join('; ');
  }
  // keptLength counts as the loop keeps: never true, unless one changes without the other.
  if (n !== headers.length) headers.length = n;
  const hostValue = authority ?? host;
  if (hostValue === undefined) headers.splice(0, 2);
  else headers[1] = hostValue;
  const head: { -readonly [K in keyof H2DownstreamHead]: H2DownstreamHead[K] } = {
    method,
    target: method === 'CONNECT' ? (authority ?? '') : path,
    versionMajor: 1,
    versionMinor: 1,
    protocol: 'HTTP/2',
    streamId,
    scheme,
    headerListSize,
    headers,
    remoteAddress: connection.remoteAddress,
    encrypted: connection.encrypted,
    bodyLength: endStream ? undefined : (contentLength ?? 'chunked'),
    upgrade: false,
    expectContinue,
  };
  // Absent, not undefined, on a connection without one (as the HTTP/1.1 head has it).
  if (connection.sni.servername !== undefined) head.servername = connection.sni.servername;
  if (connection.sni.servernameUnknown === true) head.servernameUnknown = true;
  if (connection.clientCertificate !== undefined) head.clientCertificate = connection.clientCertificate;
  return head;
}

/**
 * The fields of a header list as `max_header_fields` counts them: the `cookie` crumbs as one, the
 * field they are joined into (RFC 9113 §8.2.3 lets a client split Cookie for compression, and
 * browsers do), so that a request is not refused over HTTP/2 for cookies it sends over HTTP/1.1
 * on one line. The header list size still counts each crumb.
 */
function fieldCount(raw: readonly string[]): number {
  let count = 0;
  let cookie = false;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i] === 'cookie') cookie = true;
    else count++;
  }
  return cookie ? count + 1 : count;
}

/** The length of h2RequestHead's field list for `raw`: Host, every field but the pseudo-fields, Host and Cookie, and the Cookie joined. */
function keptLength(raw: readonly string[]): number {
  let length = 2;
  let cookie = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (name.charCodeAt(0) === 58 /* : */ || name === 'host') continue;
    if (name === 'cookie') cookie = true;
    else length += 2;
  }
  return cookie ? length + 2 : length;
}

/**
 * What the HTTP/1.1 parser would refuse and nghttp2 lets through, as the same errors, by the
 * same rules (core/http1/request-rules.ts): a header list past `max_header_list_size` or with
 * more than `max_header_fields` fields (431), a method that is not known (501), a `:scheme` other than http or https, a `:path` that is not
 * the origin form (or `*` for OPTIONS: nghttp2 resets one first, kept should it stop) or holds bytes a request line may not (400), a target
 * past the URI length (414), a field whose name is not a token or whose value holds a control
 * character or starts or ends with whitespace (400: RFC 9113 §8.2.1 makes the request
 * malformed; §8.1.1 lets a server answer it before closing the stream), or a Host that names
 * another authority than `:authority` (400, RFC 9113 §8.3.1). `:authority` itself becomes Host, which the accept checks hold to
 * the authority rule (request-checks.ts). A request with neither nghttp2 resets itself.
 *
 * What nghttp2 drops before node:http2 hands the fields over cannot be refused here: see
 * h2-limits.ts (a field name that is not a token, a value with CR, LF, NUL or another control).
 */
export function h2Refusal(
  raw: readonly string[],
  head: H2DownstreamHead,
  limits: {
    readonly uriLength: number;
    readonly maxHeaderListSize: number;
    readonly maxHeaderFields: number;
  },
): RequestParseError | undefined {
  // node:http2 holds a head to the SETTINGS_MAX_HEADER_LIST_SIZE it announced only once the
  // client has acknowledged them, and a client's first request goes before that: held here too.
  if (head.headerListSize > limits.maxHeaderListSize)
    return {
      status: 431,
      code: 'HPE_HEADER_OVERFLOW',
      details: `request header list of ${head.headerListSize} bytes is past the limit of ${limits.maxHeaderListSize} (limits.http2.max_header_list_size)`,
      inBody: false,
    };
  // node:http2 lets a few more through (h2-limits.ts) so that this one is answered, as the
  // HTTP/1.1 parser answers too many fields.
  if (raw.length / 2 > limits.maxHeaderFields && fieldCount(raw) > limits.maxHeaderFields)
    return {
      status: 431,
      code: 'HPE_HEADER_OVERFLOW',
      details: `more than ${limits.maxHeaderFields} header fields (limits.http2.max_header_fields)`,
      inBody: false,
    };
  const method = methodBreak(head.method);
  if (method !== undefined) return refusal(method);
  const target = head.target;
  if (target.length > limits.uriLength)
    return {
      status: 414,
      code: 'ERR_URI_TOO_LONG',
      // As HTTP/1.1's (request-checks.ts): the length and the limit to raise.
      details: `request target of ${target.length} bytes, over the limit of ${limits.uriLength} bytes (limits.uri_length)`,
      inBody: false,
    };
  // CONNECT has neither :scheme nor :path (its target is :authority): the accept checks answer it 405.
  if (head.method !== 'CONNECT') {
    const scheme = head.scheme.toLowerCase();
    if (scheme !== 'http' && scheme !== 'https')
      return refusal({
        status: 400,
        code: 'HPE_INVALID_URL',
        details: `malformed request (:scheme ${snippet(head.scheme)} is not http or https)`,
      });
    // RFC 9113 §8.3.1: for http(s), `:path` is the origin form, or `*` for OPTIONS; the absolute
    // form is HTTP/1.1's alone (nghttp2 lets it through with another :scheme, refused above).
    if (target.charCodeAt(0) !== 0x2f /* / */ && !(target === '*' && head.method === 'OPTIONS'))
      return refusal({
        status: 400,
        code: 'HPE_INVALID_URL',
        details: 'malformed request (:path must be a path, or * for OPTIONS)',
      });
    const broken = targetBreak(target);
    if (broken !== undefined) return refusal(broken);
  }
  let authority: string | undefined;
  let host: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (name.charCodeAt(0) === 0x3a /* : */) {
      if (name === ':authority') authority = raw[i + 1];
      continue;
    }
    const field = fieldBreak(name, raw[i + 1]);
    if (field !== undefined) return refusal(field);
    if (name === 'host') host = raw[i + 1];
  }
  if (authority !== undefined && host !== undefined && !sameAuthority(authority, host, head.scheme))
    return { status: 400, code: 'ERR_HOST_MISMATCH', details: 'Host differs from :authority', inBody: false };
  return undefined;
}

/** The port a scheme's authority means when it names none (RFC 9110 §4.2). */
const DEFAULT_PORTS: Readonly<Record<string, string>> = { http: '80', https: '443' };

/**
 * Whether two authorities name the same one once normalized as RFC 9113 §8.3.1 asks (RFC 3986
 * §6.2.2 and §6.2.3): the host's case, and a port that is empty or the scheme's default, do not
 * count (`a.test`, `A.test:80` and `a.test:` are one authority for http). Anything else is
 * compared as it came.
 */
function sameAuthority(a: string, b: string, scheme: string): boolean {
  const normal = (authority: string): string => {
    const lower = authority.toLowerCase();
    // The host (a bracketed IP literal, whose colons are no port's) and what follows its last colon.
    const parts = /^(\[[^\]]*\]|[^:]*)(?::([0-9]*))?$/.exec(lower);
    if (parts === null) return lower;
    // One IPv6 address in two spellings ([0:0::1], [::1]) is one authority, as the router reads it.
    const host = parts[1].startsWith('[') ? (canonicalIpLiteral(parts[1]) ?? parts[1]) : parts[1];
    const port = parts[2];
    return port === undefined || port === '' || port === DEFAULT_PORTS[scheme.toLowerCase()]
      ? host
      : `${host}:${port}`;
  };
  return a === b || normal(a) === normal(b);
}

const refusal = (broken: RuleBreak): RequestParseError => ({ ...broken, inBody: false });

/**
 * The client's own breach of HTTP/2 that ended its connection while this stream was open:
 * nghttp2 refused a frame and sent GOAWAY (DATA past its stream's `content-length` is one, RFC
 * 9113 §8.1.1; the stream's error is then the session's), the details of a 400 of the client's;
 * undefined when the stream ended otherwise (the client reset it, its connection went away:
 * that is its leaving, a 499).
 */
export function protocolBreach(stream: ServerHttp2Stream, when: string): string | undefined {
  const error = stream.errored as (Error & { code?: string }) | null;
  if (error?.code !== 'ERR_HTTP2_ERROR') return undefined;
  // nghttp2 names its refusal by its class alone: which frame is not told, so none is claimed
  // (a window pushed past 2^31 - 1 is a Flow control error, no DATA past a content-length).
  const what = error.message === 'Protocol error' ? `Protocol error; ${PROTOCOL_ERRORS}` : error.message;
  return `its connection broke HTTP/2 ${when} (nghttp2: ${what}): the connection was closed`;
}

/** What nghttp2's "Protocol error" may have been: the client breaches it is known to end a connection for. */
const PROTOCOL_ERRORS =
  "a frame HTTP/2 forbids, such as DATA past its stream's content-length (RFC 9113 §8.1.1) or after its END_STREAM (§5.1)";
