/**
 * The network addresses a config names: listen addresses, upstream target URLs, route
 * hosts and trusted proxy blocks. Each parser returns the value or the reason it is not one,
 * so the schema check and the normaliser share one definition.
 */

import { isIP } from 'node:net';
import { canonicalIPv6, ipv6Groups } from '../net/ip-address.ts';
import { canonicalHost, canonicalIpLiteral } from '../net/ip-literal.ts';
import { normalizePath, withEscapesDecoded } from '../uri-path.ts';
import { aLabelAdvice } from './a-label.ts';
import { describeValue, withoutPassword } from './describe-value.ts';

export type Parsed<T> = { readonly value: T } | { readonly problem: string };

const HOSTNAME =
  /^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/;
const BRACKETED_PORT = /^\[([^\]]+)\](?::(\d+))?$/;
const HOST_PORT = /^([^:[\]]+)(?::(\d+))?$/;
/** A host and something after its colon that is no port: `:70000`, `:http`. */
const NOT_A_PORT = /^(?:\[[^\]]+\]|[^:[\]]+):([^:]+)$/;

function isHostname(text: string): boolean {
  return text.length <= 253 && (isIP(text) === 4 || HOSTNAME.test(text));
}

function isPort(text: string | undefined): text is string {
  return text !== undefined && /^\d{1,5}$/.test(text) && Number(text) <= 65535;
}

/**
 * "127.0.0.1:8080", "localhost:8080" or "[::1]:8443" → host (IPv6 without brackets) and
 * port. Port 0 is allowed: the system picks a free port, which tests rely on.
 */
export function parseListenAddress(text: string): Parsed<{ host: string; port: number }> {
  const expected = `expected host:port like 127.0.0.1:8080 or [::1]:8080, got ${describeValue(text)}${portProblem(text)}`;
  const bracketed = BRACKETED_PORT.exec(text);
  if (bracketed) {
    if (isIP(bracketed[1]) !== 6)
      return { problem: `${expected} ("${bracketed[1]}" is not an IPv6 address)` };
    if (!isPort(bracketed[2])) return { problem: expected };
    // node:net's isIP takes a zone index ("::1%lo"), which the config's checks would compare as
    // written: [::1%lo]:8080 beside [::1]:8080 passed as two addresses, and failed at bind.
    const zone = zoneOf(bracketed[1]);
    if (zone !== undefined)
      return {
        problem: `${expected} (a zone index ("${zone}") is not taken: write an address that needs none, a global, unique-local or loopback one, or [::])`,
      };
    return { value: { host: bracketed[1], port: Number(bracketed[2]) } };
  }
  if (isIP(text) === 6) return { problem: `${expected} (put an IPv6 address in brackets: [${text}]:8080)` };
  const plain = HOST_PORT.exec(text);
  if (!plain || !isHostname(plain[1]) || !isPort(plain[2])) return { problem: expected };
  // A host that ends in a number is an IPv4 address in some spelling (127.1, 0x7f.0.0.1) or none:
  // no top-level domain is numeric. `10.0.0.256` passed here, to be looked up as a name when serve
  // opened it (ENOTFOUND), after candor check had said ok.
  if (!readsAsAddress(plain[1]))
    return {
      problem: `${expected} (${plain[1]} ends in a number, so it is read as an IPv4 address, and is none: a host name never ends in a number)`,
    };
  return { value: { host: plain[1], port: Number(plain[2]) } };
}

/** Whether a host that ends in a number (a last label of digits, or 0x and hex: WHATWG URL's test) is an IPv4 address a URL parser reads; any other host is. */
function readsAsAddress(host: string): boolean {
  const bare = host.replace(/\.$/, '').toLowerCase();
  if (!/^(?:\d+|0x[0-9a-f]*)$/.test(bare.slice(bare.lastIndexOf('.') + 1))) return true;
  try {
    new URL(`http://${bare}/`);
    return true;
  } catch {
    return false;
  }
}

/**
 * `health_check.host`: a Host field's value, a host and an optional port (RFC 9110 §7.2), an IPv6
 * host in brackets, as a request's Host must be. It goes into every probe (and a forward-auth
 * call) as written: a CR LF in it would write a field of its own, `::1` a Host an upstream refuses.
 */
export function parseHostHeader(text: string): Parsed<string> {
  const expected = `expected a Host like api.internal, api.internal:8080 or [::1]:8080, got ${describeValue(text)}`;
  const bracketed = BRACKETED_PORT.exec(text);
  if (bracketed) {
    if (isIP(bracketed[1]) !== 6 || zoneOf(bracketed[1]) !== undefined)
      return { problem: `${expected} (between brackets stands an IPv6 address, without a zone index)` };
    return bracketed[2] === undefined || isPort(bracketed[2])
      ? { value: text }
      : { problem: `${expected}${portProblem(text)}` };
  }
  if (isIP(text) === 6) return { problem: `${expected} (put an IPv6 address in brackets: [${text}])` };
  const plain = /^([^:[\]]+)(?::([^:]*))?$/.exec(text);
  if (!plain || !isHostname(plain[1])) return { problem: expected };
  if (plain[2] !== undefined && !isPort(plain[2])) return { problem: `${expected}${portProblem(text)}` };
  return { value: text };
}

/** The zone index of an IPv6 address as written ("%eth0" of "fe80::1%eth0"); undefined when it has none. */
function zoneOf(address: string): string | undefined {
  const at = address.indexOf('%');
  return at === -1 ? undefined : address.slice(at);
}

/** Why the part after a host's colon is no port, to say after the value; "" when it is one or there is none. */
function portProblem(text: string): string {
  const port = NOT_A_PORT.exec(text)?.[1];
  if (port === undefined || isPort(port)) return '';
  // A listen() takes a number: a service name (`http`) is looked up nowhere. The part is not quoted
  // (the value may be a variable's, told as `${ADDR}`).
  if (/^\d+$/.test(port)) return ' (a port is a number from 0 to 65535)';
  return /^[A-Za-z][A-Za-z0-9-]*$/.test(port)
    ? ' (a port is a number from 0 to 65535, not a service name)'
    : '';
}

interface ParsedTarget {
  readonly protocol: 'http:' | 'https:';
  readonly hostname: string;
  readonly port: number;
  readonly origin: string;
}

/**
 * An upstream target is an origin only ("http://10.0.0.5:3001"): a path in it would be
 * silently prepended or dropped depending on the reader, so it is refused outright.
 */
export function parseTargetUrl(text: string): Parsed<ParsedTarget> {
  const got = describeValue(text);
  if (text !== text.trim()) return { problem: `expected a URL without surrounding spaces, got ${got}` };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { problem: `expected a URL like http://127.0.0.1:3001, got ${got}${unparsedUrlReason(text)}` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return {
      problem: `expected an http:// or https:// URL, got ${got} (scheme "${url.protocol.slice(0, -1)}")`,
    };
  }
  if (url.username !== '' || url.password !== '') {
    return { problem: `expected a URL without credentials, got ${got}` };
  }
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || /[?#]/.test(text)) {
    return {
      problem: `expected scheme://host:port only, got ${got} with a path or query (use the route's match.path and strip_prefix instead)`,
    };
  }
  const protocol = url.protocol;
  const port = url.port === '' ? (protocol === 'https:' ? 443 : 80) : Number(url.port);
  // Port 0 is "any free port" to listen on, and no port to connect to: every attempt would fail.
  if (port === 0)
    return { problem: `expected a port from 1 to 65535, got ${got} (port 0 is no port to connect to)` };
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  // The port is always spelled out: the origin keys the connection pool and appears in
  // logs, where "http://api" and "http://api:80" must not look like two upstreams.
  const origin = `${protocol}//${url.hostname}:${port}`;
  return { value: { protocol, hostname, port, origin } };
}

/**
 * Why a URL the WHATWG parser refused is none, to say after it; "" when no one reason fits. The
 * one character that makes `http://::1:8080` or `http://[::1]:99999` no URL is hard to see
 * beside the example `http://127.0.0.1:3001`.
 */
function unparsedUrlReason(text: string): string {
  // A WHATWG URL refuses a zone index in its IPv6 address ("[fe80::1%25eth0]", RFC 6874's).
  if (/\[[^\]]*%[^\]]*\]/.test(text))
    return " (a URL's IPv6 address takes no zone index: name the target by a global or unique-local address, or by a host name)";
  const authority = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/.exec(text)?.[1];
  if (authority === undefined) return '';
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close === -1) return ' (its "[" is never closed by a "]")';
    if (isIP(authority.slice(1, close)) !== 6) return ' (between brackets stands an IPv6 address)';
  } else if (authority.indexOf(':') !== authority.lastIndexOf(':')) {
    // RFC 3986 §3.2.2: bare, an IPv6 address's colons cannot be told from the port's.
    return ' (an IPv6 address is written in brackets, the port after them: http://[::1]:8080)';
  }
  const port = /:(\d+)$/.exec(authority)?.[1];
  return port !== undefined && Number(port) > 65535 ? ' (a port is a number from 1 to 65535)' : '';
}

/**
 * An upstream's `tls.servername`: the SNI sent and the name its certificate must carry. A host
 * name, never an IP address in any spelling (`::1`, `[::1]`, `127.1`): RFC 6066 §3 permits none,
 * node:tls sends one all the same (it only warns, DEP0123), and one in brackets is checked as a
 * name no certificate carries.
 */
export function parseServerName(text: string): Parsed<string> {
  const expected = `expected a host name like api.internal, got ${describeValue(text)}`;
  // "127.0.0.1." is an address too: the SNI goes without an absolute name's dot (connector.ts).
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text.replace(/\.$/, '');
  if (isIP(bare) !== 0 || isIP(canonicalHost(bare.toLowerCase())) !== 0)
    return {
      problem: `${expected} (an IP address is never a TLS server name, RFC 6066 §3: without servername, an IP-literal target sends none and its certificate is checked against its address)`,
    };
  if (text.length > 253 || !HOSTNAME.test(text)) return { problem: expected };
  return { value: text };
}

/**
 * The OTLP/HTTP traces endpoint: a whole http(s) URL, path included (the exporter posts to
 * it as written, so "http://collector:4318" without "/v1/traces" would be a silent 404).
 */
export function parseOtlpEndpoint(text: string): Parsed<string> {
  // A problem is logged and answered by the admin API, as GET /config shows the URL: without its password.
  const got = describeValue(withoutPassword(text));
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { problem: `expected a URL like http://127.0.0.1:4318/v1/traces, got ${got}` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return {
      problem: `expected an http:// or https:// URL, got ${got} (scheme "${url.protocol.slice(0, -1)}")`,
    };
  }
  if (url.pathname === '/') {
    return {
      problem: `expected the traces path in the URL, like http://127.0.0.1:4318/v1/traces, got ${got}`,
    };
  }
  return { value: url.href };
}

/**
 * A route's host: lower-cased and without its port, as the Host header is compared;
 * "*.example.com" matches any subdomain; an IPv6 literal keeps its brackets, as in Host; an IP
 * address is in its canonical form (`[0::1]` is `[::1]`, `127.1` is `127.0.0.1`), as
 * hostnameOf reads a request's.
 */
export function parseRouteHost(text: string): Parsed<string> {
  const expected = `expected a host name like api.example.com or *.example.com, got ${describeValue(text)}${aLabelAdvice(text, (ascii) => !('problem' in parseRouteHost(ascii)))}`;
  const bracketed = BRACKETED_PORT.exec(text);
  if (bracketed) {
    if (isIP(bracketed[1]) !== 6 || (bracketed[2] !== undefined && !isPort(bracketed[2])))
      return { problem: expected };
    // isIP takes one; a request's authority with a "%" is refused (request-rules.ts).
    if (zoneOf(bracketed[1]) !== undefined)
      return {
        problem: `${expected} (a request's Host never carries a zone index: one with a "%" is refused, so no request would match it)`,
      };
    return { value: canonicalIpLiteral(`[${bracketed[1]}]`) ?? `[${bracketed[1].toLowerCase()}]` };
  }
  if (isIP(text) === 6 && zoneOf(text) === undefined)
    return {
      problem: `${expected} (an IPv6 address is written in brackets, as a request's Host carries it: [${text}])`,
    };
  const plain = HOST_PORT.exec(text);
  if (!plain || (plain[2] !== undefined && !isPort(plain[2]))) return { problem: expected };
  // A fully qualified name's dot goes, as it goes from a request's Host (request-target.ts):
  // kept, the route would never match.
  const host = plain[1].toLowerCase().replace(/(?<=.)\.$/, '');
  const bare = host.startsWith('*.') ? host.slice(2) : host;
  if (!isHostname(bare) || bare.includes('*')) return { problem: expected };
  return { value: host.startsWith('*.') ? host : canonicalHost(host) };
}

/**
 * A route's path prefix, without its trailing slash ("/v1/" and "/v1" are one route), except "/".
 * It must be in the normal form requests are matched in (src/core/uri-path.ts): a prefix with a
 * dot-segment or an escaped letter would never match, and one a rewrite puts in front of a
 * path would send it outside the prefix.
 */
export function parseRoutePath(text: string): Parsed<string> {
  if (!/^\/[^\s?#]*$/.test(text)) {
    return {
      problem: `expected a path prefix starting with "/" (no spaces, query or fragment), got ${describeValue(text)}`,
    };
  }
  const normal = normalizePath(text, { normalize: true, mergeSlashes: false });
  if ('problem' in normal)
    return {
      problem: `expected a valid path prefix, got ${describeValue(text)}: ${normal.problem}`,
    };
  if (normal.path !== text) {
    return {
      problem: `expected a path prefix in the normal form requests are matched in, got ${describeValue(text)}: write ${describeValue(normal.path)}`,
    };
  }
  return { value: text.replace(/\/+$/, '') || '/' };
}

/**
 * A health check's `path`: a route path (parseRoutePath, kept as written) and a query, as
 * HAProxy's `option httpchk`, nginx's `health_check uri=` and Caddy's `health_uri` take one
 * (Elasticsearch's `/_cluster/health?local=true`). The query holds what RFC 3986 §3.4 lets it
 * (pchar, "/", "?", each "%" a whole escape): no space, no fragment, nothing a request line
 * would carry otherwise.
 */
export function parseProbePath(text: string): Parsed<string> {
  const at = text.indexOf('?');
  const path = at === -1 ? text : text.slice(0, at);
  const parsed = parseRoutePath(path);
  if ('problem' in parsed)
    return { problem: parsed.problem.replace('(no spaces, query or fragment)', '(no spaces or fragment)') };
  if (at !== -1 && !/^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*$/.test(text.slice(at + 1)))
    return {
      problem: `expected a query of URL characters (no spaces or fragment, each "%" followed by two hex digits), got ${describeValue(text)}`,
    };
  return { value: text };
}

/**
 * A route's `match.path`: a route path (parseRoutePath) written with the characters a segment
 * may hold as they are, not their escapes (`/@admin`, not `/%40admin`): a request could spell
 * it either way, and a server that decodes its path reads both as the one route, so the router
 * refuses a path whose two spellings it would route apart (withEscapesDecoded). Written
 * escaped, the route's own spelling would be refused.
 */
export function parseMatchPath(text: string): Parsed<string> {
  const parsed = parseRoutePath(text);
  if ('problem' in parsed) return parsed;
  const decoded = withEscapesDecoded(text);
  if (decoded === text) return parsed;
  return {
    problem: `expected a path prefix with the characters themselves, not their escapes (a server that decodes the path reads them alike, and a request could spell it either way), got ${describeValue(text)}: write ${describeValue(decoded)}`,
  };
}

/** "10.0.0.1", "10.0.0.0/8", "::1" or "fd00::/8": a proxy address whose forwarding headers we trust. */
export function addressOrCidrProblem(text: string): string | undefined {
  const expected = `expected an IP address or CIDR block like 10.0.0.0/8 or fd00::/8, got ${describeValue(text)}`;
  const [address, prefix, extra] = text.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return expected;
  // node:net's BlockList, which every such list is matched with, drops the zone: the entry
  // would admit (or trust) the address on every interface, not the one it names.
  if (address.includes('%'))
    return `${expected} (a zone index is not matched on, so this would stand for the address on every interface: write it without "${address.slice(address.indexOf('%'))}")`;
  if (prefix === undefined) return undefined;
  const maxPrefix = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > maxPrefix) {
    return `${expected} (an IPv${family} prefix length is 0 to ${maxPrefix})`;
  }
  return undefined;
}

/**
 * The block a valid CIDR entry stands for ("10.1.0.0/16" for "10.1.2.3/16") when the entry has
 * bits set past its prefix; undefined for a plain address or an entry written as its block.
 * The lists match the whole block (node:net's BlockList drops those bits), so "10.1.2.3/16" is
 * no single address: nginx warns of the same ("low address bits are meaningless").
 */
export function blockOfLooseCidr(entry: string): string | undefined {
  const [address, prefix] = entry.split('/');
  if (prefix === undefined) return undefined;
  const bits = Number(prefix);
  if (isIP(address) === 4) {
    const value = address.split('.').reduce((sum, octet) => sum * 256 + Number(octet), 0);
    const size = 2 ** (32 - bits);
    const network = value - (value % size);
    if (network === value) return undefined;
    const octets = [24, 16, 8, 0].map((shift) => Math.floor(network / 2 ** shift) % 256);
    return `${octets.join('.')}/${bits}`;
  }
  const value = ipv6Groups(address).reduce((sum, group) => (sum << 16n) | BigInt(group), 0n);
  const network = bits === 0 ? 0n : (value >> BigInt(128 - bits)) << BigInt(128 - bits);
  if (network === value) return undefined;
  const groups = Array.from({ length: 8 }, (_, i) =>
    ((network >> BigInt(112 - 16 * i)) & 0xffffn).toString(16),
  );
  return `${canonicalIPv6(groups.join(':'))}/${bits}`;
}
