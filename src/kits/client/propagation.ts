import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * What an app passes on from the request it is serving to the calls it makes while serving it:
 * the request id the gateway gave it and the W3C trace context. `candor/app` sets it around
 * each request it handles; `candor/client` adds it to every outgoing call made inside.
 */
export interface Propagation {
  readonly requestId?: string;
  readonly traceparent?: string;
  readonly tracestate?: string;
}

const store = new AsyncLocalStorage<Propagation>();

/** Runs `fn` with `context` as what outgoing calls made inside it carry. */
export function runWithPropagation<T>(context: Propagation, fn: () => T): T {
  return store.run(context, fn);
}

/** What outgoing calls made here should carry, or undefined outside any request. */
export function currentPropagation(): Propagation | undefined {
  return store.getStore();
}
