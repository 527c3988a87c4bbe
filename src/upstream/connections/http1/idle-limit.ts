/**
 * How long an idle connection to an HTTP/1.1 upstream may be kept for its next request: the
 * pool's idle_timeout, or less when the upstream said it closes sooner (`Keep-Alive: timeout=N`).
 * A request written as the upstream closes the connection is lost, and a POST cannot be
 * retried (502 not_idempotent): the gateway must let go of the connection first.
 */

/**
 * Taken off the upstream's N seconds. The upstream's clock starts as it finishes writing its
 * answer; ours when the answer has been read, and a request we send reaches it another half
 * round trip later: the margin covers a round trip (even between continents, some 300 ms), a
 * busy event loop between taking the connection and writing on it, and timer slop, with room
 * to spare. N is a floor (Node says `floor(keepAliveTimeout / 1000)`, Apache truncates a
 * millisecond timeout to seconds), so the upstream's close comes at N s or later. One second,
 * not two: two would keep nothing from the common `timeout=2`, and an idle connection past its
 * limit is never handed out however late its timer fires (the pool checks at take time).
 */
export const HINT_MARGIN_MS = 1000;

/**
 * Milliseconds an idle connection may be kept after a response whose hint was `hintSeconds`
 * (-1: none, the pool's `idleTimeout` stands). 0 (a hint of the margin or less, `timeout=0`
 * included): not kept at all, closed after its response.
 */
export function idleLimit(idleTimeout: number, hintSeconds: number): number {
  if (hintSeconds < 0) return idleTimeout;
  return Math.max(0, Math.min(idleTimeout, hintSeconds * 1000 - HINT_MARGIN_MS));
}
