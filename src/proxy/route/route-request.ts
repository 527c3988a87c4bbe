import type { RouteConfig } from '../../core/config/types.ts';
import { Failure } from '../../core/failure/failure.ts';
import { cgiSpelling } from '../../core/http1/cgi-spelling.ts';
import { clipped } from '../../core/http1/syntax.ts';
import type { DownstreamHead, FieldMap } from '../../core/net/downstream.ts';
import { hostnameOf } from '../../core/net/hostname.ts';
import type { OwnAnswer } from '../../core/net/own-answer.ts';
import {
  type PathOptions,
  trimmedReading,
  windowsReading,
  withEscapesDecoded,
  withoutParameters,
  withoutQuery,
} from '../../core/uri-path.ts';
import { lastValuesFirst, phpNames, repeatReadings } from './conditions.ts';
import { RedirectAnswer, redirectLocation, redirectStatus } from './redirect.ts';
import { encodedSlashRefused, rewrittenPath, routedPath } from './request-path.ts';
import { splitTarget } from './request-target.ts';
import { upstreamPath } from './rewrite.ts';
import type { RouteRequest, Router } from './router.ts';

/** Where a request goes, as the route phase found it; whether it may go there is the admit phase's to say. */
export interface Routed {
  readonly route: RouteConfig;
  /** host[:port] the client addressed. */
  readonly authority: string;
  /** The route cannot take the path as it is spelled (an encoded slash it does not allow): the 400 to answer. */
  readonly refused: Failure | undefined;
  /**
   * The path in its normal form, query included: what the routes matched and the access checks
   * judge (forward auth's X-Forwarded-Uri), so no spelling of it reads otherwise to them.
   */
  readonly path: string;
  /** A route that redirects: its answer, or the 400 of one with no host to keep (given after access control). */
  readonly redirect: OwnAnswer | Failure | undefined;
  /**
   * The path (query included) the upstream receives: the normal form, rewritten by the route;
   * or the 400 of a rewrite that would leave its prefix. For a route that redirects, the normal form.
   */
  readonly upstreamPath: string | Failure;
}

/**
 * The route phase, for plain requests and upgrades alike: the path in its normal form (the one
 * an upstream that resolves "/x/../admin" would act on: src/core/uri-path.ts), then host, path,
 * listener, scheme, method, headers and query to a route; the failure when none takes it.
 */
export function routeRequest(
  router: Router,
  paths: PathOptions,
  listener: {
    readonly name: string;
    readonly protocol: string;
    readonly misdirected?: (servername: string | undefined, host: string) => boolean;
  },
  head: DownstreamHead,
  fields: FieldMap,
): Routed | Failure {
  const host = fields.host;
  const target = splitTarget(head.target || '/', typeof host === 'string' ? host : '');
  const { authority } = target;
  const normal = routedPath(head.target, target.path, paths);
  if (normal instanceof Failure) return normal;
  const path = normal.path;
  const hostname = hostnameOf(authority);
  // Before routing: the host's own connection may route it elsewhere (another listener's
  // certificate, another gateway behind the same address), so this one must not answer for it.
  // A resumed TLS 1.2 session's certificate is not known (servernameUnknown): not judged.
  if (
    head.encrypted &&
    head.servernameUnknown !== true &&
    listener.misdirected?.(head.servername, hostname) === true
  ) {
    return new Failure(
      'misdirected_request',
      `${hostname} is served under another certificate than the one this connection's TLS server name (${head.servername ?? 'none'}) chose: send it on a connection of its own`,
    );
  }
  const asked = { listener: listener.name, scheme: listener.protocol, method: head.method, headers: fields };
  const route = router.match(hostname, path, asked);
  if (!route)
    return new Failure(
      'destination_not_found',
      `no route for ${clipped(`${hostname || '(no host)'}${withoutQuery(path)}`)}`,
    );
  // A servlet container reads `/admin;x` as `/admin` (and `/api;x/admin` as `/api/admin`): a path
  // whose `;` parameters take it past the route its container would pick, and that route's
  // policy, is refused; one routed the same either way goes on as sent (`;jsessionid=…`).
  if (normal.parameters && router.match(hostname, withoutParameters(path), asked) !== route)
    return new Failure(
      'http_request_error',
      'the path\'s ";" parameters make it another route\'s path to a server that drops them (a servlet container)',
      { status: 400 },
    );
  // RFC 3986 §2.2 keeps `/%40admin` apart from `/@admin`, and so does the router; a server that
  // decodes its path before it reads it (nginx's locations, Express, Rails) does not: a path its
  // escapes take past the route that reading picks, and that route's policy, is refused. A
  // servlet container drops the parameters first (`/%40admin;x` is its `/@admin`).
  const decoded = path.includes('%') ? withEscapesDecoded(path) : path;
  if (
    decoded !== path &&
    (router.match(hostname, decoded, asked) !== route ||
      (normal.parameters && router.match(hostname, withoutParameters(decoded), asked) !== route))
  )
    return new Failure(
      'http_request_error',
      'the path\'s escapes (such as %40 for "@") make it another route\'s path to a server that decodes them',
      { status: 400 },
    );
  // Windows (IIS, a server that hands the path to NTFS) ends a segment before its trailing dots
  // and spaces: a path they take past the route that reading picks (`/admin.` to the catch-all,
  // IIS's `/admin`), and past that route's policy, is refused. A servlet container's reading too.
  if (
    readingRoutesApart(windowsReading, router, hostname, path, asked, route) ||
    (normal.parameters &&
      readingRoutesApart(windowsReading, router, hostname, withoutParameters(path), asked, route))
  )
    return new Failure(
      'http_request_error',
      "a path segment's trailing dots or spaces make it another route's path to a server that drops them (Windows: IIS)",
      { status: 400 },
    );
  // And Java's: String.trim() on each segment (Spring's AntPathMatcher) drops escaped control
  // bytes and spaces at its ends, `/admin%09` its `/admin`, past the `/admin` route here.
  if (readingRoutesApart(trimmedReading, router, hostname, path, asked, route))
    return new Failure(
      'http_request_error',
      "a path segment's escaped control bytes or spaces at its ends (such as %09) make it another route's path to a server that trims them (Java's String.trim)",
      { status: 400 },
    );
  // A query giving a tested name twice: a server that reads its last value (PHP, Rails) would
  // act as another route's request than the first value, which the conditions read, routed
  // (`?debug=0&debug=1` past a `debug: "1"` route's policy). Only looked at when a route tests the query.
  const reversed = router.readsQuery ? lastValuesFirst(path) : undefined;
  if (reversed !== undefined && router.match(hostname, reversed, asked) !== route)
    return new Failure(
      'http_request_error',
      'the query gives a parameter more than once, and its last value would take the request to another route than its first (a server such as PHP or Rails reads the last)',
      { status: 400 },
    );
  // PHP reads ` debug`, and `trace.id`, `trace id` or `trace[id` as `debug` and `trace_id` (and
  // a repeated name's last value): a query whose names so read take it past the route that
  // reading picks (`?%20debug=1` past a `debug: "1"` route's policy, or `?debug=0&%20debug=1`
  // past the repeat check above) is refused. Only looked at when a route tests the query.
  const php = router.readsQuery ? phpNames(path) : undefined;
  if (php !== undefined && router.match(hostname, lastValuesFirst(php) ?? php, asked) !== route)
    return new Failure(
      'http_request_error',
      'a query parameter\'s name is a name another route tests to a server that reads names as PHP does (leading spaces dropped, " ", "." and an unclosed "[" read as "_")',
      { status: 400 },
    );
  // The same for a tested header field sent twice (`X-Debug: 1` then `X-Debug: 0`): Go's
  // Header.Get reads the first, others the last; or spelled with `_` (`X_Debug: 1`), which a
  // CGI-style app reads as that field. Only looked at when a route tests a header.
  const apart =
    router.testedHeaders.length > 0
      ? repeatsRouteApart(router, hostname, path, asked, head.headers, route)
      : undefined;
  if (apart !== undefined)
    return new Failure(
      'http_request_error',
      apart === 'spelled'
        ? 'a header field a route tests is also given spelled with "_", which a CGI-style server (PHP, Rack, WSGI) reads as the same field, and that reading would take the request to another route'
        : 'a header field a route tests is given more than once, and its first and last lines would take the request to different routes (a server reads one of them)',
      { status: 400 },
    );
  // A method-override field names the method Rack, Laravel, Symfony and Express's
  // method-override act on (a POST with `X-HTTP-Method-Override: DELETE` is their DELETE): one
  // that takes the request past the route its method picks, and that route's policy, is
  // refused. Only looked at when a route tests the method.
  if (router.readsMethod && overrideRoutesApart(router, hostname, path, asked, route))
    return new Failure(
      'http_request_error',
      'a method-override field names a method that would take the request to another route (a server such as Rails, Laravel or Express acts on the method it names)',
      { status: 400 },
    );
  const refused = encodedSlashRefused(normal, route);
  if (route.redirect !== undefined) {
    const location = redirectLocation(route.redirect, listener.protocol, authority, path);
    const redirect =
      location === undefined
        ? new Failure('http_request_error', 'the request names no host to redirect to', { status: 400 })
        : new RedirectAnswer(redirectStatus(route.redirect.status, head.method), location);
    return { route, authority, path, refused, redirect, upstreamPath: path };
  }
  const forwarded = upstreamPath(route, path);
  return {
    route,
    authority,
    path,
    refused,
    redirect: undefined,
    upstreamPath: rewrittenPath(path, forwarded, paths),
  };
}

/** Whether another server's `reading` of `path` (windowsReading, trimmedReading) picks another route than `route`. */
function readingRoutesApart(
  reading: (path: string) => string | undefined,
  router: Router,
  hostname: string,
  path: string,
  asked: RouteRequest,
  route: RouteConfig,
): boolean {
  const read = reading(path);
  return read !== undefined && router.match(hostname, read, asked) !== route;
}

/**
 * The fields by which frameworks take a request for another method. A CGI-style app reads each
 * in every spelling with `_` for any of its `-` (PHP's, Rack's and WSGI's
 * HTTP_X_HTTP_METHOD_OVERRIDE for `X-HTTP_Method-Override` too: cgi-spelling.ts), so a field
 * is one of them when its name is, so read.
 */
const METHOD_OVERRIDES: ReadonlySet<string> = new Set([
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
]);

/**
 * Whether a method an override field names (any of its lines and comma-separated elements,
 * upper-cased as frameworks read it; an empty one names none) picks another route than `route`.
 */
function overrideRoutesApart(
  router: Router,
  hostname: string,
  path: string,
  asked: RouteRequest,
  route: RouteConfig,
): boolean {
  // Every field's name is looked at: a fixed list of spellings missed `X-HTTP_Method-Override`.
  for (const name in asked.headers) {
    if (!METHOD_OVERRIDES.has(cgiSpelling(name))) continue;
    const value = asked.headers[name];
    if (value === undefined) continue;
    for (const element of String(value).split(',')) {
      const method = element.trim().toUpperCase();
      if (method !== '' && router.match(hostname, path, { ...asked, method }) !== route) return true;
    }
  }
  return false;
}

/**
 * Whether reading each repeated tested field as its first line, or its last (a line spelled with
 * `_` among them: repeatReadings), picks another route than `route`: `spelled` when such a line
 * was read, `repeated` otherwise; undefined when every reading picks `route`.
 */
function repeatsRouteApart(
  router: Router,
  hostname: string,
  path: string,
  asked: RouteRequest,
  raw: readonly string[],
  route: RouteConfig,
): 'spelled' | 'repeated' | undefined {
  const readings = repeatReadings(raw, asked.headers, router.testedHeaders);
  if (readings === undefined) return undefined;
  const apart =
    router.match(hostname, path, { ...asked, headers: readings.first }) !== route ||
    router.match(hostname, path, { ...asked, headers: readings.last }) !== route;
  if (!apart) return undefined;
  return readings.spelled ? 'spelled' : 'repeated';
}
