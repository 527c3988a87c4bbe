/**
 * The routing values that are strings with a grammar of their own: header names, header value
 * templates, linear-time patterns, HTTP methods and the hash balancer's key. Each parser returns
 * the value or the reason it is not one, so the schema check and the normaliser share one
 * definition (as addresses.ts does).
 */

import { RE2JS } from 're2js';
import { didYouMean } from '../did-you-mean.ts';
import type { Parsed } from './addresses.ts';
import { describeValue } from './describe-value.ts';

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** A field name (RFC 9110 §5.1: a token). */
export function headerNameProblem(name: string): string | undefined {
  return TOKEN.test(name)
    ? undefined
    : `expected a header name (letters, digits and !#$%&'*+.^_\`|~-), got ${describeValue(name)}`;
}

/**
 * Fields Candor writes itself on every hop: framing and connection management (hop-by-hop),
 * and what it says about the request's path through proxies. A rule that touched them would
 * let a config break framing or forge what the next hop trusts.
 */
const HOP_BY_HOP = new Set([
  // core/http1/hop-by-hop.ts's list (a peer folder: test/core/config/routing-values.test.ts keeps them in step)
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);
const CANDOR_WRITTEN = new Set([
  'content-length',
  'expect',
  'forwarded',
  'via',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-request-id',
  'traceparent',
  'tracestate',
  'proxy-status',
]);

/**
 * Why config may not write the field on the upstream request (a route's request_headers set or
 * add, an auth hop's identity_header, copy_headers or claims_to_headers): RFC 9440's two fields,
 * which the gateway writes itself for a certificate its listener verified, as byte sequences
 * (`:base64 DER:`) an upstream parses; a value written by config would be read as a certificate
 * that is none, or beside (or in place of) the one the gateway wrote. Removing them is the
 * operator's choice (an upstream not to be told the certificate).
 */
export function clientCertFieldProblem(lowerName: string): string | undefined {
  if (lowerName === 'client-cert' || lowerName === 'client-cert-chain')
    return `${lowerName} is RFC 9440's, which Candor writes for a verified client certificate (its DER as :base64:): name another field`;
  return undefined;
}

/** Why a header rule may not name this field, or undefined when it may. */
export function reservedHeaderProblem(lowerName: string): string | undefined {
  if (HOP_BY_HOP.has(lowerName)) return `${lowerName} is hop-by-hop: Candor writes it for each connection`;
  if (CANDOR_WRITTEN.has(lowerName))
    return `${lowerName} is Candor's to write (framing, forwarding and tracing fields)`;
  return undefined;
}

const TEMPLATE_VARIABLES = ['request_id', 'client_ip', 'host'] as const;
export type TemplateVariable = (typeof TEMPLATE_VARIABLES)[number];
/** Text, or a variable filled in per request. */
export type TemplatePart = string | { readonly variable: TemplateVariable };

/**
 * A header value with `{request_id}`, `{client_ip}` or `{host}` in it (`{{` and `}}` for
 * literal braces). Braces without a dollar sign cannot be mistaken for the config's `${ENV}`,
 * which is expanded first.
 */
export function parseHeaderTemplate(text: string): Parsed<TemplatePart[]> {
  if (/[\r\n\0]/.test(text))
    return { problem: `expected a header value on one line, got ${describeValue(text)}` };
  // What every hop takes as it is: another control byte or a non-ASCII character reaches the
  // peer as a byte it refuses (an upstream's 400) or, past Latin-1, as another character; and
  // an HTTP/2 peer refuses a value that starts or ends with whitespace (RFC 9113 §8.2.1).
  if (/[^\t\x20-\x7e]/.test(text))
    return {
      problem: `expected a header value in visible ASCII, spaces and tabs (percent-encode other characters), got ${describeValue(text)}`,
    };
  if (/^[\t ]|[\t ]$/.test(text))
    return {
      problem: `expected a header value without whitespace at either end (a peer drops it, an HTTP/2 one refuses the field), got ${describeValue(text)}`,
    };
  const parts: TemplatePart[] = [];
  let literal = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if ((c === '{' || c === '}') && text[i + 1] === c) {
      literal += c;
      i++;
      continue;
    }
    if (c === '}') return { problem: `a lone "}" in ${describeValue(text)}: write "}}" for a literal brace` };
    if (c !== '{') {
      literal += c;
      continue;
    }
    const end = text.indexOf('}', i);
    const name = end === -1 ? text.slice(i + 1) : text.slice(i + 1, end);
    if (end === -1 || !(TEMPLATE_VARIABLES as readonly string[]).includes(name)) {
      const suggestion = didYouMean(name, TEMPLATE_VARIABLES);
      const hint =
        suggestion === undefined
          ? `known: ${TEMPLATE_VARIABLES.map((v) => `{${v}}`).join(', ')}`
          : `did you mean {${suggestion}}?`;
      return {
        problem: `unknown variable {${name}} in ${describeValue(text)} (${hint}; "{{" is a literal brace)`,
      };
    }
    if (literal !== '') parts.push(literal);
    literal = '';
    parts.push({ variable: name as TemplateVariable });
    i = end;
  }
  if (literal !== '' || parts.length === 0) parts.push(literal);
  return { value: parts };
}

/**
 * The longest pattern a route may have, in characters: a route's is a few dozen, and 4096 is
 * the bound the gateway keeps on other single values it reads (an Authorization field, a
 * service's answer field, a chunk line); RE2 compiles that much in milliseconds.
 */
const MAX_PATTERN_LENGTH = 4096;

/**
 * Patterns run on RE2's linear-time engine (the re2js port): matching takes time in proportion
 * to the input whatever the pattern, so what needs backtracking (backreferences, lookarounds)
 * is refused when the config is loaded, as is a repeat count over 1000.
 */
export function compileLinearPattern(text: string): Parsed<RE2JS> {
  // Checked before compiling: RE2 takes time in proportion to the pattern (a 1 MiB one, near 2 s,
  // again for each route it is weighed against), and the problem does not quote it.
  if (text.length > MAX_PATTERN_LENGTH)
    return {
      problem: `expected a pattern of at most ${MAX_PATTERN_LENGTH} characters, got one of ${text.length} (a route's pattern is a few dozen: match a prefix, or split the route)`,
    };
  try {
    return { value: RE2JS.compile(text) };
  } catch (error) {
    const reason = (error as Error).message.replace(/^error parsing regexp: /, '');
    return {
      problem: `expected a pattern in RE2 syntax (linear-time: no backreferences or lookarounds), got ${describeValue(text)}: ${reason}`,
    };
  }
}

/** The methods RFC 9110 §9 and RFC 5789 define, as a client sends them. */
const STANDARD_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'];

/**
 * A request method token as sent (methods are case-sensitive, RFC 9110 §9.1): a standard one
 * in another case ("get") is refused, since no client sends it and the route would match nothing.
 */
export function methodProblem(text: string): string | undefined {
  if (!TOKEN.test(text)) return `expected a method like GET or POST, got ${describeValue(text)}`;
  const upper = text.toUpperCase();
  return upper !== text && STANDARD_METHODS.includes(upper)
    ? `methods are compared as clients send them, in upper case: write ${upper}, not ${describeValue(text)}`
    : undefined;
}

export type HashKey =
  | { readonly kind: 'client' }
  | { readonly kind: 'header'; readonly name: string }
  | { readonly kind: 'cookie'; readonly name: string };

/** "client", "header:X-User" or "cookie:session". */
export function parseHashKey(text: string): Parsed<HashKey> {
  if (text === 'client') return { value: { kind: 'client' } };
  const m = /^(header|cookie):(.+)$/.exec(text);
  if (m && m[1] === 'header' && TOKEN.test(m[2]))
    return { value: { kind: 'header', name: m[2].toLowerCase() } };
  // A cookie name is a token too (RFC 6265 §4.1.1), compared as written.
  if (m && m[1] === 'cookie' && TOKEN.test(m[2])) return { value: { kind: 'cookie', name: m[2] } };
  return {
    problem: `expected client, header:NAME or cookie:NAME (e.g. cookie:session), got ${describeValue(text)}`,
  };
}

/** A redirect's fixed target: an absolute http(s) URL (a client resolves a relative one against what it asked for). */
export function parseLocation(text: string): Parsed<string> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { problem: `expected an absolute URL like https://example.com/new, got ${describeValue(text)}` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return { problem: `expected an http:// or https:// URL, got ${describeValue(text)}` };
  if (/[\s\0]/.test(text)) return { problem: `expected a URL without spaces, got ${describeValue(text)}` };
  // Sent as it is written in the Location field, which carries ASCII only.
  if (/[^\x21-\x7e]/.test(text))
    return {
      problem: `expected a URL in visible ASCII, got ${describeValue(text)} (write it ${describeValue(url.href)})`,
    };
  return { value: text };
}

/**
 * The methods a route's `methods` takes: a route that takes GET takes HEAD too. HEAD is GET
 * without the content (RFC 9110 §9.3.2) and every server must support it (§9.1): `curl -I` of a
 * GET route must not get a 404. As Express, Fastify and Hono register a GET handler for HEAD.
 */
export function routeMethods(methods: readonly string[]): string[] {
  const taken = [...new Set(methods)];
  if (taken.includes('GET') && !taken.includes('HEAD')) taken.push('HEAD');
  return taken;
}
