/**
 * What an HTTP/1.1 connection to an upstream (connection.ts) is made with: its options, from its
 * pool; what a request on it is told of it.
 */
import type { ConnectionFacts, ConnectionTimeouts } from '../exchange-contract.ts';

/** What every request on a connection that carried one before is told of it (no object a request). */
export const REUSED: ConnectionFacts = Object.freeze({ connectMs: 0, reused: true });

export interface ConnectionOptions {
  /** The target's host[:port]: the Host of a request that came without one (HTTP/1.0 clients). */
  readonly authority: string;
  /**
   * Told (target's host[:port], bytes) when the upstream sent bytes past a complete response or
   * while no request was out: the connection is closed for them, never reused (framing in doubt).
   */
  readonly strayBytes?: (target: string, bytes: number) => void;
  readonly timeouts: ConnectionTimeouts;
  readonly idleTimeout: number;
  readonly maxHeaderSize: number;
}
