/**
 * What holds back calls that go one way: the whole origin's, or one upstream's behind a
 * gateway (the `next-hop` its Proxy-Status names). Each has its circuit and its pause, so
 * what a gateway says about one upstream (it fails, it asks for time) holds the calls that
 * go to that upstream, and the gateway's other routes go on.
 */
import { type Circuit, createCircuit } from '../../core/retry/circuit.ts';
import type { ClientConfig } from './options.ts';
import { Pause } from './pause.ts';

export class Scope {
  /** The upstream behind a gateway; undefined for the whole origin. */
  readonly hop: string | undefined;
  readonly circuit: Circuit | undefined;
  readonly pause: Pause;

  constructor(config: ClientConfig, hop?: string) {
    this.hop = hop;
    this.pause = new Pause(hop);
    const breaker = config.circuitBreaker;
    this.circuit =
      breaker &&
      createCircuit({
        consecutiveFailures: breaker.failures,
        openTime: breaker.openTime,
        halfOpenRequests: 1,
      });
  }
}
