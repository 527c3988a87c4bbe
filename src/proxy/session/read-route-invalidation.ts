import { Failure } from '../../core/failure/failure.ts';
import { invalidatedKeys, invalidates } from '../cache/invalidation.ts';
import { rewrittenPath } from '../route/request-path.ts';
import { hostnameOf } from '../route/request-target.ts';
import { upstreamPath } from '../route/rewrite.ts';
import type { Routed } from '../route/route-request.ts';
import type { SessionRequest } from './session-request.ts';

/**
 * An unsafe request's success invalidates its target URI's stored answers (RFC 9111 §4.4) in the
 * cache of the route that serves a GET of it, when that is another route than its own: routes
 * told apart by method (a cached route for reads beside `match.methods: [POST, PUT, PATCH,
 * DELETE]` on the same host and path, as in the complete example) are one resource to a client,
 * which after its DELETE was given the deleted item, fresh from the store, until its max-age ran
 * out. The keys are that route's (its rewrite of the path, its split's sides), and the other
 * workers are told as of the route's own invalidation (cache-run.ts, which keeps its own keys).
 * Returns what to run once the upstream answered under 400; undefined when there is nothing to do.
 */
export function readRouteInvalidation(req: SessionRequest, routed: Routed): (() => void) | undefined {
  const { runtime, head, fields, listener } = req;
  // No route keeps answers (the usual gateway): an unsafe request is not routed a second time.
  if (runtime.caches.size === 0 || !invalidates(head.method, fields)) return undefined;
  const asked = { listener: listener.name, scheme: listener.protocol, method: 'GET', headers: fields };
  const route = runtime.router.match(hostnameOf(routed.authority), routed.path, asked);
  if (route === undefined || route === routed.route || route.redirect !== undefined) return undefined;
  const cache = runtime.caches.get(route.name);
  if (cache === undefined) return undefined;
  const path = rewrittenPath(routed.path, upstreamPath(route, routed.path), runtime.config.paths);
  if (path instanceof Failure) return undefined;
  const target = { authority: routed.authority, upstreamPath: path };
  const keys = invalidatedKeys(
    head.method,
    target,
    listener.protocol,
    runtime.splits.get(route.name)?.sides,
    fields,
  );
  return () => cache.invalidateAll(keys, runtime.announce);
}
