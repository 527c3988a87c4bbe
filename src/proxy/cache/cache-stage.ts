import { hasBody } from '../../core/net/downstream.ts';
import type { RouteStage } from '../stages/stage.ts';
import { CacheRun } from './cache-run.ts';
import { methodOverride } from './invalidation.ts';
import { type CachedRoute, PassingRun } from './passing-run.ts';

/**
 * A route's response cache (`routes[].cache`) as a stage, built when a config loads: a GET or a
 * HEAD it can answer meets the whole of it (cache-run.ts: a stored answer before the first
 * attempt, in place of the upstream's 5xx or of a failure, the answer copied to the store as it
 * streams); any other request goes upstream, said so in Cache-Status, and an unsafe one's success
 * invalidates its target's stored answers (passing-run.ts). It runs after every other stage: a
 * stored answer goes only to a request they let through, and its Cache-Status follows their edits.
 */
export function cacheStage(route: CachedRoute): RouteStage {
  return {
    name: 'cache',
    // Its waits are its own: bounded by the route's lock_timeout, and by the client's leaving.
    timeoutMs: Number.POSITIVE_INFINITY,
    failOpen: false,
    trusted: true,
    start(request) {
      const { head, fields } = request;
      if (head.method !== 'GET' && head.method !== 'HEAD') return new PassingRun(route, request, 'method');
      // Another method by override (an upstream honouring it answers that), an upgrade, a body: not what a stored answer answers.
      if (methodOverride(fields) !== undefined)
        return new PassingRun(route, request, 'bypass', 'method-override');
      if (head.upgrade || hasBody(head)) return new PassingRun(route, request, 'bypass');
      return new CacheRun(route, request);
    },
  };
}
