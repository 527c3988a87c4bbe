import type { SplitSide } from '../../core/config/types.ts';
import { cgiSpelling } from '../../core/http1/cgi-spelling.ts';
import type { FieldMap } from '../../core/net/downstream.ts';
import { normalizePath, type PathOptions } from '../../core/uri-path.ts';
import { cacheKey } from './cache-key.ts';

/**
 * News of one cluster worker for the others (through the primary): an unsafe request it
 * forwarded invalidated these keys of the route's store (its shared files, with `cache.dir`, are
 * gone already), so the others drop their copies in memory too, not only the worker that saw it;
 * or (`cache-stored`) it stored a new answer of these keys in the shared files, so the others drop
 * their older copies in memory and read that one, not giving the old page on beside the new.
 */
export interface CacheNews {
  readonly candor: 'cache-invalidated' | 'cache-stored';
  readonly route: string;
  readonly keys: readonly string[];
}

/** The methods RFC 9110 §9.2.1 defines as safe: no other leaves a stored answer of its target true. */
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/**
 * The fields by which frameworks take a request for another method: most (Rack, Laravel,
 * Symfony, Express's method-override by default) only on a POST; some, or those configured so
 * (method-override's `methods: null`, Flask's override middleware), on a GET too, which is what
 * a cache must not store. A CGI-style app reads each in every spelling with `_` for any of its
 * `-` (WSGI's HTTP_X_HTTP_METHOD_OVERRIDE: cgi-spelling.ts), as the router does (route-request.ts).
 */
const OVERRIDES = ['x-http-method-override', 'x-http-method', 'x-method-override'];

/**
 * The method a request's override field names (its first, upper-cased), or undefined without
 * one (an empty field names none: frameworks ignore it). An upstream that honours it answers a
 * GET carrying `X-HTTP-Method-Override: DELETE` as a DELETE: that answer is not the GET's to
 * store nor to be given a stored one, and when it is unsafe it invalidates as the method it
 * names would (the upstream may well have deleted).
 */
export function methodOverride(fields: FieldMap): string | undefined {
  for (const name of OVERRIDES) {
    const method = namedMethod(fields[name]);
    if (method !== '') return method;
  }
  // The same fields spelled with `_` (rare: only looked for when none of the above names one).
  for (const name in fields) {
    if (!name.includes('_') || !OVERRIDES.includes(cgiSpelling(name))) continue;
    const method = namedMethod(fields[name]);
    if (method !== '') return method;
  }
  return undefined;
}

/** The method an override field's value names: its first element, upper-cased ('' for none). */
function namedMethod(value: string | string[] | undefined): string {
  return value === undefined ? '' : String(value).split(',')[0].trim().toUpperCase();
}

/** Whether a request's success invalidates its target URI's stored answers: its method, or the one its override field names, is unsafe. */
export function invalidates(method: string, fields: FieldMap): boolean {
  if (!SAFE.has(method)) return true;
  const override = methodOverride(fields);
  return override !== undefined && !SAFE.has(override);
}

/**
 * The keys of the stored answers a request invalidates when its upstream answers it with a
 * status under 400 (RFC 9111 §4.4: an unsafe method, one of unknown safety too): none for a
 * safe method (unless its override field names an unsafe one: methodOverride); else its target
 * URI's (host and path as the upstream is told them), whichever scheme it was stored for (a
 * DELETE over https deletes what the http clients would read too) and on every side of a split
 * route (`sides`).
 */
export function invalidatedKeys(
  method: string,
  target: InvalidatedTarget,
  scheme: string,
  sides: readonly SplitSide[] | undefined,
  fields: FieldMap,
): readonly string[] {
  if (!invalidates(method, fields)) return [];
  return uriKeys(target, scheme, sides);
}

/** The keys a URI's stored answers may be under: each scheme's (http, https), on every side of a split. */
function uriKeys(
  target: InvalidatedTarget,
  scheme: string,
  sides: readonly SplitSide[] | undefined,
): string[] {
  const { authority, upstreamPath, forwarded } = target;
  const keys: string[] = [];
  for (const each of new Set([scheme, 'http', 'https']))
    if (sides === undefined) keys.push(cacheKey(authority, upstreamPath, each, undefined, forwarded));
    else
      for (const side of sides) keys.push(cacheKey(authority, upstreamPath, each, side.upstream, forwarded));
  return keys;
}

/**
 * A request's target as the upstream is told it: the authority the client addressed, the path it
 * was given, and what a trusted proxy said of its host, port and prefix (forwarded-key.ts): a
 * POST through it invalidates the page of the site it named.
 */
export interface InvalidatedTarget {
  readonly authority: string;
  readonly upstreamPath: string;
  readonly forwarded?: string;
}

/**
 * The keys of the URIs an unsafe request's answer names in `Location` and `Content-Location`
 * (its `fields`), which RFC 9111 §4.4 lets a cache invalidate with the target URI: a POST's 201
 * names the item it made, a PUT's answer the representation it changed. Each is read against
 * the target URI (the path the upstream was given, in whose terms it answers), and one of
 * another origin (scheme, host or port: §4.4's "MUST NOT") or that does not read invalidates
 * nothing: an upstream's answer cannot empty another host's pages. Its path is put in the form
 * the keys are in (`paths`, as the router puts a request's: `%7E` is `~`, hex upper-cased).
 */
export function namedKeys(
  fields: readonly string[],
  target: InvalidatedTarget,
  scheme: string,
  sides: readonly SplitSide[] | undefined,
  paths: PathOptions,
): readonly string[] {
  const base = URL.parse(`${scheme}://${target.authority}${target.upstreamPath}`);
  if (base === null) return [];
  const keys: string[] = [];
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i].toLowerCase();
    if (name !== 'location' && name !== 'content-location') continue;
    const named = URL.parse(fields[i + 1].trim(), base.href);
    if (named === null || named.origin !== base.origin) continue;
    // The URL parser leaves `%7E` and `%2c` as written (Java's URLEncoder writes `~` so), where the
    // page's key holds the normal form (`~`, `%2C`): taken as written, nothing was invalidated.
    const normal = normalizePath(named.pathname, paths);
    if ('problem' in normal) continue; // no request so spelled was forwarded, nor stored
    keys.push(...uriKeys({ ...target, upstreamPath: normal.path + named.search }, scheme, sides));
  }
  return keys;
}
