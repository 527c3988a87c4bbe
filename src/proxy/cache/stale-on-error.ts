/**
 * A cache run's stored answers as they go out (delivery.ts's one head builder, this answer's
 * Cache-Status), and in place of a failed upstream: within the stored answer's stale-if-error
 * window (RFC 5861 §4), for the upstream's own 5xx (onUpstreamHead's) or the gateway's failure
 * (onFailure), saying so (Cache-Status fwd=stale, Proxy-Status naming the failure). CacheRun
 * (cache-run.ts) extends it with the lookup, the waits for a fill and the answer's copy: one
 * object per request, split in two files, not in two objects; what may stand in for a failure
 * reads apart from how a request finds or fetches its answer.
 */
import type { Failure } from '../../core/failure/failure.ts';
import { failureProxyStatus, receivedStatusProxyStatus } from '../../core/failure/proxy-status.ts';
import type { StageAnswer } from '../stages/stage.ts';
import { staleStatus } from './cache-status.ts';
import { deliveryOf } from './delivery.ts';
import type { FillEnd } from './fill.ts';
import { PassingRun } from './passing-run.ts';
import { failedFetch } from './refresh-exchange.ts';
import type { CacheRequest, StoredAnswer } from './stored-answer.ts';

/** The upstream's own statuses a stored answer may stand in for (RFC 5861 §4: 500, 502, 503, 504). */
export const STALE_FOR_STATUS = new Set([500, 502, 503, 504]);

/** The gateway's own 503s a stored answer may stand in for: nothing could be tried (no target, a full pool, no descriptor or port). */
const STALE_FOR_GATEWAY = new Set([
  'destination_unavailable',
  'connection_limit_reached',
  'proxy_resources_exhausted',
]);

/**
 * The stored answers a cache run gives: CacheRun (cache-run.ts) is the one run; this is its half
 * that gives them, and gives one for a failure.
 */
export abstract class StaleOnErrorRun extends PassingRun {
  /** The request's key in the store (onForward's cacheKey; a split route's side keeps its own: keyOnItsSide). */
  protected key: string | undefined;
  /** The request as the store reads it (onForward's). */
  protected cacheRequest: CacheRequest | undefined;
  /** Ends the key's fetch this request makes for the others waiting on it (or a refresh's done). */
  protected endFill: ((end?: FillEnd) => void) | undefined;
  /** How this request's fetch failed, for those waiting on it (set where a failure is answered). */
  protected fetchEnd: FillEnd;

  // ── stale on error ───────────────────────────────────────────────────────────────

  /** The stored answer standing in for the upstream's own 5xx; undefined when none may. */
  protected staleFor(status: number): StageAnswer | undefined {
    const stored = this.#staleAnswer();
    if (stored === undefined) return undefined;
    this.fetchEnd = status;
    const { gateway, minimalErrors } = this.route;
    return {
      send: (out) =>
        this.#giveStale(
          stored,
          `upstream_${status}`,
          staleStatus(gateway, status, stored.ttl(), undefined, stored.fresh()),
          // errors.detail: minimal keeps the upstream's name out, as on the answers it relays.
          receivedStatusProxyStatus(gateway, status, minimalErrors ? undefined : (out.nextHop() as string)),
        ).send(out),
    };
  }

  /**
   * The attempts end (or would wait for a target) with this failure: a stored answer within its
   * stale-if-error window goes out instead, with Age, Cache-Status fwd=stale and Proxy-Status
   * naming the failure. Undefined when none may, the failure is the client's own, or a background
   * refresh, which answers nobody, failed.
   */
  onFailure(failure: Failure): StageAnswer | undefined {
    const shape = failure.kind.shape;
    if (shape === 'client' || shape === 'internal' || failure.clientsDoing) return undefined;
    if (shape === 'gateway' && !STALE_FOR_GATEWAY.has(failure.type)) return undefined;
    // A background fetch answers nobody: a fill's failure is the Range's that waits on it.
    if (this.refresh) return void failedFetch(this.request, failure);
    this.fetchEnd = failure;
    const stored = this.#staleAnswer();
    if (stored === undefined) return undefined;
    const { gateway, minimalErrors } = this.route;
    return {
      send: (out) =>
        this.#giveStale(
          stored,
          failure.type,
          staleStatus(gateway, failure.status, stored.ttl(), failure.type, stored.fresh()),
          failureProxyStatus(gateway, failure, out.nextHop(), minimalErrors),
        ).send(out),
    };
  }

  /** The stored answer that may stand in for a failed upstream now (the latest: another request may have stored it). */
  #staleAnswer(): StoredAnswer | undefined {
    const key = this.key;
    const request = this.cacheRequest;
    if (key === undefined || request === undefined || this.request.record.grpc) return undefined;
    const stored = this.route.cache.get(key);
    return stored?.servableOnError(request) ? stored : undefined;
  }

  #giveStale(stored: StoredAnswer, cause: string, status: string, proxyStatus: string): StageAnswer {
    this.request.record.staleCause = cause;
    this.route.metrics.cacheStale(this.route.name, cause);
    this.endFill?.(this.fetchEnd);
    return this.give(stored, status, 'stale', proxyStatus);
  }

  /** A stored answer goes out: through the one head builder, Age up to date, this answer's Cache-Status. */
  protected give(
    stored: StoredAnswer,
    status: string,
    result: string,
    proxy?: string,
    cookies?: string[],
  ): StageAnswer {
    this.said(status, result);
    const { head, fields, record } = this.request;
    const background = this.request.background !== undefined;
    return deliveryOf({ head, fields, record, background }, this.route.compression, stored, proxy, cookies);
  }
}
