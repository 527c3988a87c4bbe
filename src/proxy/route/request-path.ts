import type { RouteConfig } from '../../core/config/types.ts';
import { Failure } from '../../core/failure/failure.ts';
import { hasAnyDotSegment, type NormalPath, normalizePath, type PathOptions } from '../../core/uri-path.ts';

function refused(details: string): Failure {
  return new Failure('http_request_error', details, { status: 400 });
}

/**
 * The route phase's first step, for HTTP/1.1 and HTTP/2 alike: the origin-form path (query
 * included) in its normal form (core/uri-path.ts), the one the router matches and the upstream
 * receives, or the 400 for a target no normal form can settle. The query goes on as sent.
 * `requestTarget` is the target as sent (origin or absolute form), `path` its origin-form
 * path (request-target.ts).
 *
 * @example routedPath('/x/../admin?a=%2e', '/x/../admin?a=%2e', { normalize: true, mergeSlashes: false })
 * // { path: '/admin?a=%2e', encodedSlash: false, parameters: false }
 */
export function routedPath(requestTarget: string, path: string, options: PathOptions): NormalPath | Failure {
  // RFC 9112 §3.2 has no fragment in a request target; an upstream would cut it off, after
  // the router compared the path with it ("/admin#x" is not "/admin" to a prefix match).
  if (requestTarget.includes('#'))
    return refused('the request target holds a fragment ("#"), which HTTP does not allow');
  const q = path.indexOf('?');
  const normal = normalizePath(q === -1 ? path : path.slice(0, q), options);
  if ('problem' in normal) return refused(`the path cannot be made safe to route: ${normal.problem}`);
  if (q === -1) return normal;
  const query = path.slice(q);
  // HTTP/1.1's parser refuses these everywhere in the target; HTTP/2's :path lets a raw byte
  // above 0x7e through, which an HTTP/1.1 upstream would then be sent.
  if (!/^[\x21-\x7e]*$/.test(query)) return refused('the query holds a byte that is not visible ASCII');
  return { path: normal.path + query, encodedSlash: normal.encodedSlash, parameters: normal.parameters };
}

/**
 * An encoded slash stays encoded and is no separator to the router; an upstream that decodes
 * it would see segments the router never matched, so only a route that says its upstream
 * reads `%2F` as data takes one. A redirect forwards nothing: its Location keeps the escape,
 * and the route that location reaches judges it (an HTTP → HTTPS redirect of `/a%2Fb` is sent
 * on to the HTTPS route, which may take it).
 */
export function encodedSlashRefused(normal: NormalPath, route: RouteConfig): Failure | undefined {
  return normal.encodedSlash && !route.allowEncodedSlashes && route.redirect === undefined
    ? refused('the path holds an encoded slash (%2F or %5C), which this route does not accept')
    : undefined;
}

/**
 * A rewritten path in the form the routed one has: a pattern's replacement can join an empty
 * group and a slash into a run of them (`^/s(.*)$` → `/$1` makes `//evil.example/x` of
 * `/s/evil.example/x`, which a framework that resolves the target as a URL reads as another
 * host); with `paths.merge_slashes` they are one again, as in the path it was made from.
 * Without it, a run at the start is still one: the route made it (`/api//evil.example/x`
 * stripped of `/api`), and a path begun with `//` is a network-path reference to such an
 * upstream. Then refused if it has a dot-segment (rewriteEscapes). A path the route left alone
 * is as routed.
 */
export function rewrittenPath(routed: string, rewritten: string, options: PathOptions): string | Failure {
  if (rewritten === routed) return routed;
  const q = rewritten.indexOf('?');
  const pathPart = q === -1 ? rewritten : rewritten.slice(0, q);
  const merged =
    options.mergeSlashes && pathPart.includes('//')
      ? pathPart.replace(/\/{2,}/g, '/') + (q === -1 ? '' : rewritten.slice(q))
      : rewritten.charCodeAt(1) === 0x2f /* / */
        ? rewritten.replace(/^\/+/, '/')
        : rewritten;
  return rewriteEscapes(routed, merged) ?? merged;
}

/**
 * A rewritten path must stay where the route put it: from a normal path, a prefix rewrite or
 * strip_prefix cannot make a dot-segment, but a pattern's replacement can join what it
 * captured into one (`/static-..` rewritten to `/static/..`, or `/static/..;x`), and with `paths.normalize` off
 * the client's own pass through. Such a path is refused rather than resolved, which would
 * send the request outside the prefix the route rewrites to. A path the route left as it was
 * goes on (with normalisation off, exactly as sent).
 */
export function rewriteEscapes(routed: string, rewritten: string): Failure | undefined {
  if (rewritten === routed) return undefined;
  const q = rewritten.indexOf('?');
  // `..;x` too: a servlet container drops the parameters and resolves it (/static/..;x/secret).
  return hasAnyDotSegment(q === -1 ? rewritten : rewritten.slice(0, q))
    ? refused("the route's rewrite of this path has a dot-segment, which would leave its prefix")
    : undefined;
}
