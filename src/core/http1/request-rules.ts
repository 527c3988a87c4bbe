/**
 * What a request's method, target, authority and fields must be, whichever wire carried them:
 * the HTTP/1.1 parser (request-parser.ts) refuses with these as it reads a head, the HTTP/2
 * server (proxy/accept/h2/h2-request.ts) with the very same rules on a stream's fields, and the
 * accept phase's Host check (proxy/accept/request-checks.ts) reads the authority rule. One set
 * of rules, so that a request one protocol refuses cannot reach an upstream over the other.
 */
import { isIP } from 'node:net';
import { hasOuterOws, INVALID_VALUE, snippet, TOKEN } from './syntax.ts';

/** A rule a request broke: the status to answer, llhttp's name for the fault, and the details. */
export interface RuleBreak {
  readonly status: number;
  readonly code: string;
  readonly details: string;
}

/**
 * The methods the gateway knows (llhttp's list, which node:http's server accepted before):
 * a well-formed method outside it is a 501 (RFC 9110 §9.1), a malformed one a 400.
 */
const KNOWN_METHODS = new Set([
  'ACL',
  'BIND',
  'CHECKOUT',
  'CONNECT',
  'COPY',
  'DELETE',
  'GET',
  'HEAD',
  'LINK',
  'LOCK',
  'M-SEARCH',
  'MERGE',
  'MKACTIVITY',
  'MKCALENDAR',
  'MKCOL',
  'MOVE',
  'NOTIFY',
  'OPTIONS',
  'PATCH',
  'POST',
  'PROPFIND',
  'PROPPATCH',
  'PURGE',
  'PUT',
  'QUERY',
  'REBIND',
  'REPORT',
  'SEARCH',
  'SOURCE',
  'SUBSCRIBE',
  'TRACE',
  'UNBIND',
  'UNLINK',
  'UNLOCK',
  'UNSUBSCRIBE',
]);

/** A request target's bytes: visible ASCII only (RFC 9112 §3.2: URI syntax; raw bytes above 0x7e are not). */
export const TARGET = /^[\x21-\x7e]+$/;

/** `scheme://`: an absolute-form target with an authority (RFC 3986 §3). */
const HIERARCHICAL = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

/** host [ ":" port ] (RFC 3986 §3.2.2): a reg-name or an IP literal; no userinfo. */
const AUTHORITY = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=%]+|\[[0-9A-Fa-f:.]+\])(?::([0-9]*))?$/;

/**
 * The longest host an authority may name: RFC 3986 §3.2.2 asks URI producers to keep names to
 * 255 characters, and no DNS name is longer (RFC 1035 §2.3.4: 255 octets on the wire, 253
 * characters written, 254 with the root's dot). Past it the host names nothing a target could
 * be, and would be routed (a wildcard route takes it), logged and sent on as X-Forwarded-Host
 * whole, up to the head limit.
 */
export const MAX_HOST_LENGTH = 255;

/** The longest authority that is sound: the longest host and a port of five digits. */
export const MAX_AUTHORITY_LENGTH = MAX_HOST_LENGTH + ':65535'.length;

/** A 400 for a malformed request, worded as llhttp's refusals were: `malformed request (code: what)`. */
export const malformed = (code: string, what: string): RuleBreak => ({
  status: 400,
  code,
  details: `malformed request (${code}: ${what})`,
});

/** The longest method the gateway knows: a method not yet whole and longer can only be a 501. */
export const LONGEST_METHOD = Math.max(...Array.from(KNOWN_METHODS, (m) => m.length));

/** A method that is not a token is a 400; one the gateway does not know, a 501 (methods are case-sensitive: `get` is not GET). */
export function methodBreak(method: string): RuleBreak | undefined {
  if (KNOWN_METHODS.has(method)) return undefined;
  if (!TOKEN.test(method)) return malformed('HPE_INVALID_METHOD', 'invalid method');
  // A token as long as the head allows would be echoed whole in Proxy-Status, the body and the log.
  const named = method.length > 40 ? snippet(method) : method;
  return { status: 501, code: 'HPE_INVALID_METHOD', details: `method ${named} is not implemented` };
}

/**
 * What is wrong with an authority (a Host value, `:authority`, an absolute-form target's),
 * or undefined when it is a host with an optional port. RFC 9110 §4.2.1: an http(s) URI with
 * an empty host MUST be rejected; §4.2.4: userinfo (`user:secret@`) is deprecated and its
 * presence SHOULD be treated as an error (it would leak credentials to the upstream as Host);
 * a comma makes a list of hosts, a "%" a host each parser may read as another; a port past
 * 65535 names no port at all.
 */
export function authorityFault(authority: string): string | undefined {
  // Most requests name the host the last one did: found sound then, it is sound now (no match made).
  if (authority === lastSound) return undefined;
  // A bare IPv6 address (`::1`) reads as an empty host and a port: said as what it is, so a
  // client told why its 400 came is not sent looking for a Host it left blank.
  if (authority === '' || authority.charCodeAt(0) === 0x3a /* : */)
    return isIP(authority) === 6 ? BARE_IPV6 : 'empty host';
  if (authority.includes('@')) return 'userinfo (user@) in the authority';
  // RFC 3986's reg-name allows it, no DNS name or IP literal has one, and as a field value it
  // is two hosts (RFC 9110 §5.3): routed as neither, it went on as X-Forwarded-Host, whose
  // first (Express) or last (Rails) member a framework takes as the host the request is for.
  if (authority.includes(',')) return 'a comma in the host (a list of hosts, not one)';
  // RFC 3986 lets a reg-name be percent-encoded, and WHATWG URL parsers (Node's, browsers') and
  // Go's net/url decode it: `%61dmin.example` is admin.example to an app that parses its Host,
  // while the router, comparing names, sent it to the catch-all. No DNS name has a "%".
  if (authority.includes('%')) return 'a percent-encoded host (a "%" in it)';
  const m = AUTHORITY.exec(authority);
  if (m === null) return isIP(authority) === 6 ? BARE_IPV6 : 'not a host[:port]';
  // A name ends in one dot at most (hostnameOf drops it); an empty label names no host (nginx refuses it too).
  if (authority.charCodeAt(0) === 0x2e /* . */ || authority.includes('..'))
    return 'an empty label in the host';
  // RFC 3986 §3.2.2: between brackets stands an IPv6 address (or an IPvFuture, which no one
  // uses and the pattern above refuses); `[1.2.3.4]` or `[:]` names nothing, though it went on
  // as Host and X-Forwarded-Host, where a WHATWG URL parser throws on it.
  if (authority.charCodeAt(0) === 0x5b /* [ */ && isIP(authority.slice(1, authority.indexOf(']'))) !== 6)
    return 'an IP literal that is no IPv6 address';
  if (m[1] !== undefined && (m[1].length > 5 || Number(m[1]) > 65535)) return 'port out of range';
  const hostLength = m[1] === undefined ? authority.length : authority.length - m[1].length - 1;
  if (hostLength > MAX_HOST_LENGTH)
    return `a host of ${hostLength} characters (no name is longer than ${MAX_HOST_LENGTH})`;
  lastSound = authority;
  return undefined;
}

/** RFC 3986 §3.2.2: an IPv6 address in a URI's authority is written between brackets. */
const BARE_IPV6 = 'an IPv6 address without its brackets ([::1], [::1]:8080)';

/** The last authority authorityFault() found sound (the check is a function of the string alone). */
let lastSound: string | undefined;

/**
 * A request target's bytes and, in the absolute form, its authority: the same check a Host
 * value gets, since that authority replaces Host on the way upstream (RFC 9112 §3.2.2).
 * Which forms a method may use is the accept phase's to judge (request-checks.ts).
 */
export function targetBreak(target: string): RuleBreak | undefined {
  if (!TARGET.test(target)) return malformed('HPE_INVALID_URL', 'invalid request target');
  const first = target.charCodeAt(0);
  if (first === 0x2f /* / */ || first === 0x2a /* * */) return undefined;
  const scheme = HIERARCHICAL.exec(target);
  if (scheme === null) return undefined;
  const rest = target.slice(scheme[0].length);
  const end = rest.search(/[/?#]/);
  const fault = authorityFault(end === -1 ? rest : rest.slice(0, end));
  return fault === undefined ? undefined : malformed('HPE_INVALID_URL', `absolute-form target: ${fault}`);
}

/**
 * A field the HTTP/1.1 parser would refuse, as it is handed over by another wire (HTTP/2):
 * a name that is not a token, a control character in the value, or whitespace around it
 * (RFC 9113 §8.2.1: such a field makes the request malformed; HTTP/1.1's parser strips that
 * whitespace as OWS, but over HTTP/2 there is no OWS to strip).
 */
export function fieldBreak(name: string, value: string): RuleBreak | undefined {
  if (!TOKEN.test(name)) return malformed('HPE_INVALID_HEADER_TOKEN', 'invalid header field name');
  // The name by its start (snippet): one as long as the header list allows was echoed whole.
  if (INVALID_VALUE.test(value))
    return malformed('HPE_INVALID_HEADER_TOKEN', `invalid character in the value of header ${snippet(name)}`);
  if (hasOuterOws(value))
    return malformed('HPE_INVALID_HEADER_TOKEN', `whitespace around the value of header ${snippet(name)}`);
  return undefined;
}
