import { RE2JS } from 're2js';
import type { RouteConfig } from '../../core/config/types.ts';
import { stripPrefix } from './router.ts';

/** Compiled patterns by route: a config's routes are frozen and live as long as their snapshot. */
const compiled = new WeakMap<RouteConfig, RE2JS>();

/**
 * The path the upstream sees: the client's, with the route's prefix stripped or replaced, or
 * rewritten by its pattern. A pattern rewrites the path only (the first match; `$1`, `$<name>`
 * for groups); the query goes on as it came. A path the pattern does not match goes on unchanged.
 *
 * @example upstreamPath(route /v1 with rewrite.prefix /api/v1, '/v1/users?x=1') // '/api/v1/users?x=1'
 */
export function upstreamPath(route: RouteConfig, path: string): string {
  const rewrite = route.rewrite;
  if (rewrite === undefined) return route.stripPrefix ? stripPrefix(route.path, path) : path;
  if (rewrite.kind === 'prefix') {
    if (rewrite.prefix === '/') return stripPrefix(route.path, path);
    const rest = route.path === '/' ? path : path.slice(route.path.length);
    // "/v1" → "/api": "/v1" → "/api", "/v1/x" → "/api/x", "/v1?q" → "/api?q"; from "/": "/x" → "/api/x".
    return rewrite.prefix + rest;
  }
  let pattern = compiled.get(route);
  if (pattern === undefined) {
    pattern = RE2JS.compile(rewrite.pattern);
    compiled.set(route, pattern);
  }
  const q = path.indexOf('?');
  const pathOnly = q === -1 ? path : path.slice(0, q);
  const rewritten = pattern.matcher(pathOnly).replaceFirst(rewrite.replace);
  const absolute = rewritten.charCodeAt(0) === 0x2f ? rewritten : `/${rewritten}`;
  return q === -1 ? absolute : absolute + path.slice(q);
}
