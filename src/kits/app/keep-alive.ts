/**
 * Keep-alive timeouts for an app behind a gateway. The gateway keeps idle connections to the
 * app in a pool and reuses them; if the app closes one first, a request the gateway sends on it
 * at that moment meets a closed socket: nothing comes back, and the gateway answers 502
 * (`connection_terminated` in Candor's taxonomy) unless it may retry. So the side that closes an
 * idle connection must be the gateway: the app waits longer than the gateway's idle timeout.
 */
import type { Server } from 'node:http';

/**
 * What the app waits beyond the gateway's idle timeout: the gateway's idle clock starts when it
 * has read the whole response, a little after the app's started, and timers are not exact.
 */
export const KEEP_ALIVE_MARGIN = 5_000;

export interface KeepAliveTimeouts {
  /** Milliseconds an idle connection is kept; Node also announces it as `Keep-Alive: timeout=N` (seconds). */
  readonly keepAliveTimeout: number;
  /** Milliseconds for a request's header section; above keepAliveTimeout (older Node counted it from the previous response). */
  readonly headersTimeout: number;
}

/** The app's timeouts for a gateway that keeps idle connections `gatewayIdleTimeout` ms. */
export function keepAliveTimeoutsFor(gatewayIdleTimeout: number): KeepAliveTimeouts {
  const keepAliveTimeout = gatewayIdleTimeout + KEEP_ALIVE_MARGIN;
  return { keepAliveTimeout, headersTimeout: keepAliveTimeout + 1_000 };
}

/**
 * Sets the timeouts on a server. Node sends `Keep-Alive: timeout=<keepAliveTimeout in s>` on
 * every keep-alive response by itself once keepAliveTimeout is set: a gateway that reads the
 * hint (Candor's pool does, and closes a second before it) never waits longer than the app.
 */
export function applyKeepAlive(server: Server, timeouts: KeepAliveTimeouts): void {
  server.keepAliveTimeout = timeouts.keepAliveTimeout;
  server.headersTimeout = timeouts.headersTimeout;
  // Node refuses a headersTimeout above requestTimeout (0 turns requestTimeout off).
  if (server.requestTimeout !== 0 && server.requestTimeout < timeouts.headersTimeout)
    server.requestTimeout = timeouts.headersTimeout;
}
