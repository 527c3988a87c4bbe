/**
 * A route's `timeouts` (its own keys and those it took from `route_defaults.timeouts`) laid over
 * each upstream's, once when the config is built, so a request reads its route's timeouts with one
 * lookup and no merging (the stage contract's "built once per route").
 */
import { durationMs } from './normalize-limits.ts';
import type { RawConfig } from './schema.ts';
import type { RouteTimeouts, UpstreamConfig } from './types.ts';
import type { HeadClockName } from './upstream-config.ts';

/** An attempt's wait for its head: the per-try timeout where it is the shorter of the two, else the response timeout, and its name. */
export function headClock(perTry: number, response: number): { head: number; headName: HeadClockName } {
  return perTry < response
    ? { head: perTry, headName: 'per-try timeout' }
    : { head: response, headName: 'response timeout' };
}

type RawTimeouts = NonNullable<RawConfig['routes'][number]['timeouts']>;
type RawUpstreams = RawConfig['upstreams'];

/**
 * Per upstream name, the route's timeouts over that upstream's; undefined for a route that writes
 * none. Each key the route writes replaces the upstream's; the others stay the upstream's.
 */
export function toRouteTimeouts(
  raw: RawTimeouts | undefined,
  upstreams: Readonly<Record<string, UpstreamConfig>>,
  rawUpstreams: RawUpstreams,
): Readonly<Record<string, RouteTimeouts>> | undefined {
  if (raw === undefined || Object.keys(raw).length === 0) return undefined;
  const byUpstream: Record<string, RouteTimeouts> = {};
  for (const [name, upstream] of Object.entries(upstreams)) {
    const own = upstream.timeouts;
    const response = durationMs(raw.response, own.response);
    const read = durationMs(raw.read, own.read);
    const send = durationMs(raw.send, own.send);
    // A per-try timeout the upstream did not write is its response timeout: the route's, here.
    const perTry =
      rawUpstreams?.[name]?.retries?.per_try_timeout === undefined
        ? response
        : upstream.retries.perTryTimeout;
    byUpstream[name] = {
      connect: durationMs(raw.connect, own.connect),
      response,
      read,
      send,
      total: durationMs(raw.total, own.total),
      totalIncludesBody: raw.total_includes_body ?? own.totalIncludesBody,
      tunnelIdle: durationMs(raw.tunnel_idle, own.tunnelIdle),
      tunnelHalfClosed: durationMs(raw.tunnel_half_closed, own.tunnelHalfClosed),
      exchange: { ...headClock(perTry, response), read, send },
    };
  }
  return byUpstream;
}
