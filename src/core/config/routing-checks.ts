import type { RE2JS } from 're2js';
import { Failure } from '../failure/failure.ts';
import { filePathOf } from '../file-path.ts';
import { hasDotSegment, normalizePath } from '../uri-path.ts';
import { checkRedirectLoop, type ListenerFact, routeListeners } from './listener-checks.ts';
import { checkLocationLoops } from './location-loops.ts';
import { isMapping, itemsOf, mappingAt, stringAt } from './raw-access.ts';
import type { Report } from './report.ts';
import { type Claim, checkShadows, claimOf } from './route-shadows.ts';
import {
  clientCertFieldProblem,
  compileLinearPattern,
  headerNameProblem,
  reservedHeaderProblem,
} from './routing-values.ts';
import type { PathSegment } from './schema.ts';

/** The fields that apply to what a route forwards: nothing, on a route that redirects or serves files. */
const FORWARDING_ONLY = [
  'strip_prefix',
  'rewrite',
  'request_headers',
  'retry_idempotency_key',
  'cache',
  'compression',
  'timeouts',
] as const;

export function checkRoutes(
  routes: unknown,
  listeners: readonly ListenerFact[],
  report: Report,
  warn: Report,
): void {
  const claims: Claim[] = [];
  for (const [index, route] of itemsOf(routes)) {
    const at = (...path: PathSegment[]) => ['routes', index, ...path];
    checkTarget(route, at, report, warn);
    const reachable = routeListeners(route, at, listeners, report);
    checkRedirectLoop(route, at, reachable, report, warn);
    const claim = claimOf(index, route, reachable);
    if (claim !== undefined) claims.push(claim);
    const match = mappingAt(route, 'match');
    checkHostPort(stringAt(match, 'host'), at('match', 'host'), warn);
    for (const field of ['headers', 'query'] as const) {
      const tested = new Map<string, string>();
      for (const [name, test] of Object.entries(mappingAt(match, field) ?? {})) {
        if (field === 'headers') {
          const problem = headerNameProblem(name) ?? testedTwice(tested, name);
          if (problem !== undefined) report(at('match', field, name), problem, 'key');
        }
        checkPattern(mappingAt({ test }, 'test'), 'regex', at('match', field, name, 'regex'), report);
      }
    }
    checkRewrite(route, at, report);
    checkHeaderRules(mappingAt(route, 'request_headers'), at('request_headers'), true, report);
    checkHeaderRules(mappingAt(route, 'response_headers'), at('response_headers'), false, report);
  }
  checkShadows(claims, report, warn);
  checkLocationLoops(routes, claims, report);
}

/**
 * A field `match.headers` tests twice under two spellings (`X-A` and `x-a`: a field name is
 * case-insensitive): two conditions on one field, which both must hold, so a route whose values
 * differ never matches. `tested`: the names seen, lowercased, with the spelling first written.
 */
function testedTwice(tested: Map<string, string>, name: string): string | undefined {
  const before = tested.get(name.toLowerCase());
  if (before === undefined) {
    tested.set(name.toLowerCase(), name);
    return undefined;
  }
  return `the same field as '${before}' (a field name is case-insensitive): two conditions on one field, both of which must hold; write one`;
}

/**
 * A route's host is compared without its port, as the request's is (a Host names the port the
 * client dialled, which a port mapping or a balancer in front makes another than the
 * listener's): `api.example.com:8443` takes that host's requests on every port, more than it says.
 */
function checkHostPort(host: string | undefined, at: PathSegment[], warn: Report): void {
  const port = host === undefined ? null : /(?:^[^:[\]]+|\])(:\d+)$/.exec(host);
  if (port == null) return;
  warn(
    at,
    `the port (${port[1]}) is not compared: this route takes the host's requests whatever port they name; to take only those of one listener, name it in match.listener`,
  );
}

/** One of upstream or redirect; a redirect forwards nothing, so what shapes a forwarded request has no place beside it. */
function checkTarget(
  route: Record<string, unknown>,
  at: (...path: PathSegment[]) => PathSegment[],
  report: Report,
  warn: Report,
): void {
  const redirect = route.redirect;
  if (route.static !== undefined) return checkStatic(route, at, report);
  if (redirect === undefined) {
    if (route.upstream === undefined && route.split === undefined)
      report(at('upstream'), "missing required field 'upstream'", 'parent');
    return;
  }
  if (route.upstream !== undefined)
    report(at('redirect'), 'a route has an upstream or a redirect, not both', 'key');
  // compression is for the upstream's (or the cache's) answers: a redirect has neither.
  for (const field of FORWARDING_ONLY)
    if (route[field] !== undefined)
      report(at(field), `a route that redirects forwards nothing: ${field} has nothing to apply to`, 'key');
  // Its answer comes before the admit policies (admit-request.ts, as nginx's `return` before its
  // limits): these are allowed, as a route's own, but never act on it. Warned, not refused: a
  // route turned into a redirect for a while may keep them.
  for (const field of ['maintenance', 'rate_limit', 'max_in_flight', 'request_buffering'])
    if (route[field] !== undefined)
      warn(
        at(field),
        `a route that redirects answers before its admit policies and reads no body: ${field} does nothing here`,
        'key',
      );
  if (!isMapping(redirect)) return;
  const origin = redirect.scheme !== undefined || redirect.port !== undefined;
  if (redirect.location !== undefined && origin)
    report(
      at('redirect', 'location'),
      'a redirect goes to a fixed location or keeps the host with another scheme and/or port, not both',
      'key',
    );
  else if (redirect.location === undefined && !origin)
    report(at('redirect'), 'a redirect needs a location, or a scheme and/or port', 'key');
}

/**
 * A route with static files answers from its root and forwards nothing: an upstream, a split or a
 * redirect beside it is a second answer, and what shapes a forwarded request or its answer has
 * nothing to apply to (its prefix is stripped from the path as strip_prefix would; its files are
 * compressed ahead of time, `precompressed`).
 */
function checkStatic(
  route: Record<string, unknown>,
  at: (...path: PathSegment[]) => PathSegment[],
  report: Report,
): void {
  for (const field of ['upstream', 'split', 'redirect', 'canary', 'hash_key'])
    if (route[field] !== undefined)
      report(at(field), `a route serves static files or has ${field}, not both`, 'key');
  for (const field of FORWARDING_ONLY)
    if (route[field] !== undefined)
      report(
        at(field),
        `a route that serves static files forwards nothing: ${field} has nothing to apply to`,
        'key',
      );
  // The fallback is read as a request's path is (core/file-path.ts): one it would refuse,
  // or a directory, is never opened, and every path no file answers would be a 404.
  const files = mappingAt(route, 'static');
  const fallback = stringAt(files, 'fallback');
  if (fallback !== undefined && !fallbackOpens(fallback))
    report(
      at('static', 'fallback'),
      `expected a file (no trailing /) under root like /index.html, its names percent-decoded as a request's are: no dot-segment or dotfile, no slash, backslash or NUL, none past 255 bytes; got ${JSON.stringify(fallback)}`,
    );
  // The index is joined to a directory's names after the request's path was read: `..` would name
  // the directory above (refused at the open as outside root, every directory a 404), and a
  // dotfile (`.htpasswd`) would be served as every directory's page where its own path is hidden.
  const index = stringAt(files, 'index');
  if (index?.startsWith('.'))
    report(
      at('static', 'index'),
      `expected a file name that is no dot-segment or dotfile, got ${JSON.stringify(index)}`,
    );
}

/**
 * Whether a static route's fallback names a file its run would open: read as a request's path is
 * (each segment percent-decoded once: no dot-segment or dotfile, no `/`, `\\` or NUL in one, none
 * past NAME_MAX), and a file, not a directory (a path ending in `/`, or the root itself).
 */
function fallbackOpens(fallback: string): boolean {
  const read = filePathOf(fallback, '/');
  return (
    typeof read === 'object' && !(read instanceof Failure) && !read.directory && read.segments.length > 0
  );
}

function checkRewrite(
  route: Record<string, unknown>,
  at: (...path: PathSegment[]) => PathSegment[],
  report: Report,
): void {
  const rewrite = mappingAt(route, 'rewrite');
  if (rewrite === undefined) return;
  if (route.strip_prefix === true)
    report(
      at('strip_prefix'),
      'strip_prefix and rewrite both set the path: use rewrite.prefix: / to strip',
      'key',
    );
  const prefix = rewrite.prefix !== undefined;
  const regex = rewrite.regex !== undefined;
  if (prefix === regex) {
    report(at('rewrite'), 'a rewrite has a prefix, or a regex and its replace (one of the two)', 'key');
    return;
  }
  if (!regex) return;
  const pattern = checkPattern(rewrite, 'regex', at('rewrite', 'regex'), report);
  const replace = rewrite.replace;
  const unsendable = typeof replace === 'string' ? literalPathProblem(replace) : undefined;
  const dangling =
    typeof replace === 'string' && pattern !== undefined ? danglingReference(replace, pattern) : undefined;
  if (replace === undefined) report(at('rewrite', 'replace'), "missing required field 'replace'", 'parent');
  else if (dangling !== undefined) report(at('rewrite', 'replace'), dangling);
  else if (typeof replace === 'string' && /[\s\0]/.test(replace))
    report(
      at('rewrite', 'replace'),
      `expected a path without spaces or control characters, got ${JSON.stringify(replace)}`,
    );
  else if (unsendable !== undefined)
    report(
      at('rewrite', 'replace'),
      `expected a path a request may carry, got ${JSON.stringify(replace)}: ${unsendable}`,
    );
  else if (typeof replace === 'string' && literalDotSegment(replace))
    report(
      at('rewrite', 'replace'),
      `${JSON.stringify(replace)} has a "." or ".." segment of its own: every path it rewrites would leave the route's prefix, and each such request would be refused with a 400 that blames the client; write the path it means`,
    );
}

/**
 * A reference of the replacement to a group its pattern does not have, said as the problem:
 * rewrite.ts expands it as String.prototype.replace does (re2js's replaceFirst), which keeps
 * such a reference as written, so `/n/$2` beside one group sent the upstream `/n/$2`, a typo's
 * `$<rset>` `$<rset>`, and `$0` (the whole match in Go or Java) `$0`. `$nn` is a group when
 * those two digits name one, else `$n` and a digit (as that expansion reads it).
 */
function danglingReference(replace: string, pattern: RE2JS): string | undefined {
  const groups = pattern.groupCount();
  const named = Object.keys(pattern.namedGroups());
  const asWritten = (ref: string) => `the upstream would be sent ${JSON.stringify(ref)} as written`;
  for (let i = replace.indexOf('$'); i !== -1; i = replace.indexOf('$', i)) {
    const next = replace.charAt(i + 1);
    if (next === '$' || next === '&' || next === '`' || next === "'") {
      i += 2;
      continue;
    }
    if (next >= '0' && next <= '9') {
      const two = replace.slice(i + 1, i + 3);
      if (/^\d\d$/.test(two) && Number(two) >= 1 && Number(two) <= groups) {
        i += 3;
        continue;
      }
      const n = Number(next);
      if (n < 1 || n > groups)
        return `${JSON.stringify(`$${next}`)} names group ${n}, and the pattern has ${groups} group${groups === 1 ? '' : 's'}: ${asWritten(`$${next}`)} (${n === 0 ? 'groups are numbered from 1; ' : ''}a "$" is written "$$")`;
      i += 2;
      continue;
    }
    const close = next === '<' ? replace.indexOf('>', i + 2) : -1;
    if (close !== -1) {
      const name = replace.slice(i + 2, close);
      if (!named.includes(name)) {
        const ref = replace.slice(i, close + 1);
        const has = named.length === 0 ? 'it has no named group' : `its named groups: ${named.join(', ')}`;
        return `${JSON.stringify(ref)} names no group of the pattern (${has}): ${asWritten(ref)} (a "$" is written "$$")`;
      }
      i = close + 1;
      continue;
    }
    i += 1;
  }
  return undefined;
}

/** The replacement's own text, its groups standing for a segment's worth of path. */
function literalText(replace: string): string {
  return replace.replace(/\$(?:\d+|\{[^}]*\}|<[^>]*>|\$)/g, 'x');
}

/**
 * What the replacement's own text holds that no request path may (the client's is refused for
 * it): a byte outside visible ASCII, a backslash, a "%" without two hex digits; a "#", which
 * ends the target an upstream reads; a "?", which would start a query in front of the
 * client's, which goes on as it was sent. Sent upstream, the request was refused there (its
 * 400) or read as another path.
 */
function literalPathProblem(replace: string): string | undefined {
  if (replace.includes('?')) return 'the query goes on as the client sent it, so a replacement has no "?"';
  const checked = normalizePath(`/${literalText(replace)}`, { normalize: false, mergeSlashes: false });
  return 'problem' in checked ? checked.problem.replace(/^the path/, 'it') : undefined;
}

/**
 * A dot-segment the replacement's own text makes between two of its slashes (`/a/../$1`),
 * whatever its groups hold: the runtime refuses every request it rewrites (request-path.ts).
 * One at either end may join the rest of the path into something else, and is left alone.
 */
function literalDotSegment(replace: string): boolean {
  const segments = literalText(replace).split('/');
  return hasDotSegment(segments.slice(1, -1).join('/'));
}

/** Reports a pattern RE2 cannot run; the compiled one otherwise (undefined: none written, or refused). */
function checkPattern(
  parent: Record<string, unknown> | undefined,
  field: string,
  path: PathSegment[],
  report: Report,
): RE2JS | undefined {
  const text = stringAt(parent, field);
  if (text === undefined || text === '') return undefined;
  const compiled = compileLinearPattern(text);
  if ('problem' in compiled) {
    report(path, compiled.problem);
    return undefined;
  }
  return compiled.value;
}

function checkHeaderRules(
  rules: Record<string, unknown> | undefined,
  at: PathSegment[],
  request: boolean,
  report: Report,
): void {
  if (rules === undefined) return;
  checkSetTwice(mappingAt(rules, 'set'), [...at, 'set'], report);
  const names: [string, PathSegment[], 'key' | 'value'][] = [];
  for (const action of ['set', 'add'] as const)
    for (const name of Object.keys(mappingAt(rules, action) ?? {}))
      names.push([name, [...at, action, name], 'key']);
  const removed = rules.remove;
  if (Array.isArray(removed))
    removed.forEach((name, i) => {
      if (typeof name === 'string') names.push([name, [...at, 'remove', i], 'value']);
    });
  for (const [name, path, where] of names) {
    const lower = name.toLowerCase();
    const writes = path.at(-2) !== 'remove';
    // What the upstream reads as the certificate the gateway verified: set or added, it would be
    // read as one (or replace the gateway's: the rules run after it wrote its own); removed, the
    // upstream is only not told. An answer's are no upstream's to read.
    const problem =
      headerNameProblem(name) ??
      reservedHeaderProblem(lower) ??
      (request && writes ? clientCertFieldProblem(lower) : undefined);
    if (problem !== undefined) report(path, problem, where);
    // A request carries exactly one Host: it may be replaced, never added to or removed.
    else if (lower === 'host' && !(request && path.at(-2) === 'set'))
      report(path, 'host can only be set, in request_headers (a request carries exactly one)', where);
    // An answer's Date is the moment it was made (RFC 9110 §6.6.1: the upstream's, or the
    // gateway's for its own): a fixed value set on every answer is wrong on all of them, and one
    // that is no HTTP-date breaks every cache's freshness arithmetic (`Date: x` was taken).
    else if (lower === 'date' && !request && writes)
      report(
        path,
        "date is each answer's own moment (the upstream's, or Candor's): it can only be removed",
        where,
      );
  }
}

/**
 * A field `set` twice under two spellings (`Host` and `host`, `X-Api-Key` and `X_Api_Key`, which
 * a CGI-style app reads as one: header-rules.ts removes them together): each rule adds its value,
 * so the field went out twice, two `Host` fields to an upstream that must refuse them, where a
 * key written twice in one mapping is refused.
 */
function checkSetTwice(set: Record<string, unknown> | undefined, at: PathSegment[], report: Report): void {
  const first = new Map<string, string>();
  for (const name of Object.keys(set ?? {})) {
    const field = name.toLowerCase().replaceAll('_', '-');
    const before = first.get(field);
    if (before === undefined) first.set(field, name);
    else
      report(
        [...at, name],
        `the same field as '${before}' (a field name is case-insensitive, and _ is - to a CGI-style app): both values would be sent, two fields where set means one; keep the one you mean`,
        'key',
      );
  }
}

// ── upstreams ────────────────────────────────────────────────────────────────────

/** hash_key means something only to the hash balancer; a client certificate needs its key. */
export function checkUpstreamRouting(upstreams: Record<string, unknown> | undefined, report: Report): void {
  for (const [name, upstream] of Object.entries(upstreams ?? {})) {
    if (!isMapping(upstream)) continue;
    if (upstream.hash_key !== undefined && upstream.balancer !== 'hash')
      report(
        ['upstreams', name, 'hash_key'],
        'hash_key is read by the hash balancer only: add balancer: hash',
        'key',
      );
    const tls = mappingAt(upstream, 'tls');
    if (tls === undefined) continue;
    if (tls.cert !== undefined && tls.key === undefined)
      report(
        ['upstreams', name, 'tls', 'cert'],
        'a client certificate needs its private key: add tls.key',
        'key',
      );
    if (tls.key !== undefined && tls.cert === undefined)
      report(
        ['upstreams', name, 'tls', 'key'],
        'a private key needs its client certificate: add tls.cert',
        'key',
      );
  }
}
