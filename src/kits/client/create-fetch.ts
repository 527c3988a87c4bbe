/**
 * createFetch: the global fetch's signature with the retry discipline of the gateway, for
 * apps that call APIs through gateways. One call is a loop of attempts: wait for the origin
 * (its pause, its circuit), send, read the outcome against the failure table, then retry
 * only what the table, the method, the body, the attempts, the deadline and the budget all
 * allow, after a full-jitter backoff or the Retry-After the origin announced.
 *
 * What a call ends with: the last Response whenever an HTTP response came (a 502 that may
 * not be retried, or the last of the retries, resolves like fetch would); an UpstreamError
 * only when there is no response to give (the connection failed, the deadline passed, the
 * circuit is open); the caller's own abort reason when its signal aborts, as fetch does.
 */
import { call } from './call.ts';
import type { ClientRequestInit } from './call-request.ts';
import { type ClientOptions, resolveOptions } from './options.ts';
import { OriginState } from './origin-state.ts';

export type { ClientRequestInit };

/** A function with the global fetch's signature (assignable to `typeof fetch`). */
export type ResilientFetch = (input: string | URL | Request, init?: ClientRequestInit) => Promise<Response>;

/** Origins whose state (circuit, budget, pause) one client keeps; the least recently called goes first. */
const MAX_ORIGINS = 1_000;

/**
 * A fetch that retries what is safe to retry, and nothing else.
 *
 * @example
 * const api = createFetch({ attempts: 3, deadline: 10_000, idempotencyKey: true });
 * const res = await api('https://api.example.com/orders', { method: 'POST', body: JSON.stringify(order) });
 */
export function createFetch(options: ClientOptions = {}): ResilientFetch {
  const config = resolveOptions(options);
  // Least recently used first: a client that calls many distinct origins (a host per tenant)
  // keeps the state of the last MAX_ORIGINS, not of every origin it ever called.
  const origins = new Map<string, OriginState>();
  const originOf = (url: URL): OriginState => {
    let state = origins.get(url.origin);
    if (state === undefined) {
      state = new OriginState(config);
      if (origins.size >= MAX_ORIGINS) origins.delete(origins.keys().next().value as string);
    } else origins.delete(url.origin);
    origins.set(url.origin, state);
    return state;
  };
  // async, so that a URL that does not parse rejects as fetch's would: a caller's .catch sees it.
  return async (input, init = {}) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    // Only HTTP is judged: another scheme (data:, or file: and ws: fetch refuses) is fetch's call, once.
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      return (config.fetch ?? globalThis.fetch)(input, init as RequestInit);
    return call(config, originOf(url), url, input, init);
  };
}
