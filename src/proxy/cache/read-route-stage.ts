import type { PathsConfig, RouteConfig } from '../../core/config/types.ts';
import { Failure } from '../../core/failure/failure.ts';
import { hostnameOf } from '../../core/net/hostname.ts';
import { rewrittenPath } from '../route/request-path.ts';
import { upstreamPath } from '../route/rewrite.ts';
import type { Router } from '../route/router.ts';
import type { ForwardedRequest, RouteStage, StageRequest } from '../stages/stage.ts';
import type { AnswerCache } from './answer-cache.ts';
import { forwardedKeyPart } from './forwarded-key.ts';
import { type CacheNews, invalidatedKeys, invalidates } from './invalidation.ts';
import type { CachedRoute } from './passing-run.ts';

/** What the stage reads of the config made live: its router, and each caching route's store and split. */
export interface ReadRoutes {
  readonly router: Router;
  readonly paths: PathsConfig;
  readonly caches: ReadonlyMap<string, AnswerCache>;
  readonly splits: ReadonlyMap<string, NonNullable<CachedRoute['split']>>;
  readonly announce: ((news: CacheNews) => void) | undefined;
}

/**
 * An unsafe request's success invalidates its target URI's stored answers (RFC 9111 §4.4) in the
 * cache of the route that serves a GET of it, when that is another route than its own: routes
 * told apart by method (a cached route for reads beside `match.methods: [POST, PUT, PATCH,
 * DELETE]` on the same host and path, as in the complete example) are one resource to a client,
 * which after its DELETE was given the deleted item, fresh from the store, until its max-age ran
 * out. The keys are that route's (its rewrite of the path, its split's sides), and the other
 * workers are told as of the route's own invalidation (passing-run.ts, which keeps its own keys).
 * A stage of every route but when no other route keeps answers (the usual gateway: nothing is
 * routed a second time); it has hooks only for a request that invalidates.
 */
export function readRouteStage(route: RouteConfig, reads: ReadRoutes): RouteStage | undefined {
  if (!otherCaches(route.name, reads.caches)) return undefined;
  return {
    name: 'read_route_invalidation',
    timeoutMs: 0,
    failOpen: false,
    trusted: true,
    meets: invalidates,
    start(request) {
      if (!invalidates(request.head.method, request.fields)) return undefined;
      let invalidate: (() => void) | undefined;
      return {
        onForward(sent) {
          invalidate = invalidationOf(request, sent, reads);
          return undefined;
        },
        onRelayed(head) {
          if (head.status < 400) invalidate?.();
          return undefined;
        },
      };
    },
  };
}

/** Another route than `own` keeps answers. */
function otherCaches(own: string, caches: ReadonlyMap<string, AnswerCache>): boolean {
  for (const name of caches.keys()) if (name !== own) return true;
  return false;
}

/** What to run once the upstream answered under 400; undefined when no other route's cache serves a GET of the target. */
function invalidationOf(
  request: StageRequest,
  sent: ForwardedRequest,
  reads: ReadRoutes,
): (() => void) | undefined {
  const { authority } = sent;
  const { head, fields, listener, path: routed } = request;
  const asked = { listener: listener.name, scheme: listener.protocol, method: 'GET', headers: fields };
  const route = reads.router.match(hostnameOf(authority), routed, asked);
  if (route === undefined || route.name === request.route || route.redirect !== undefined) return undefined;
  const cache = reads.caches.get(route.name);
  if (cache === undefined) return undefined;
  const path = rewrittenPath(routed, upstreamPath(route, routed), reads.paths);
  if (path instanceof Failure) return undefined;
  const forwarded = forwardedKeyPart(sent.headers, authority, listener.protocol);
  const target = { authority, upstreamPath: path, forwarded };
  const keys = invalidatedKeys(
    head.method,
    target,
    listener.protocol,
    reads.splits.get(route.name)?.sides,
    fields,
  );
  return () => cache.invalidateAll(keys, reads.announce);
}
