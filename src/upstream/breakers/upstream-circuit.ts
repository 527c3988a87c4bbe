import type { FailureType } from '../../core/failure/taxonomy.ts';
import { type Circuit, type CircuitBreakerConfig, createCircuit } from '../../core/retry/circuit.ts';
import type { Logger } from '../../observe/log/logger.ts';
import type { GatewayMetrics } from '../../observe/metrics/metrics.ts';

/**
 * News of a worker's circuit for the others of a cluster (through the primary): it opened, for
 * the ms it has left (each process has its own clock), or a probe closed it.
 */
export type CircuitNews =
  | {
      readonly candor: 'circuit-opened';
      readonly upstream: string;
      readonly forMs: number;
      readonly failure?: OpeningFailure;
    }
  | { readonly candor: 'circuit-closed'; readonly upstream: string };

/**
 * The failure that opened a circuit, told with the opening: a worker told of it has seen no
 * failure of its own, and its 503s said only "the circuit … is open after repeated failures"
 * where the opener's named the failure (`(the last: connection_refused, 0.3 s ago)`).
 */
export interface OpeningFailure {
  readonly type: FailureType;
  /** The target whose attempt met it. */
  readonly origin: string;
  /** How long before the news was sent it happened (a worker started later hears of it late). */
  readonly ageMs: number;
}

/**
 * An upstream's circuit breaker (`circuit_breaker`), beside its retry budget: the two breakers
 * an upstream has. Made of the circuit candor/client uses too (core/retry/circuit.ts: the kit
 * carries nothing of upstream/); what is the gateway's is here: one per upstream, kept across a
 * reload with the new thresholds, judged by each attempt's outcome, and told to the other workers.
 */
export function upstreamCircuit(previous: Circuit | undefined, config: CircuitBreakerConfig): Circuit {
  const circuit = previous ?? createCircuit(config);
  circuit.reconfigure(config);
  return circuit;
}

/** Where a change of the circuit's is told: the log, its count, the other workers of a cluster. */
export interface CircuitSinks {
  readonly logger: Logger;
  readonly metrics: Pick<GatewayMetrics, 'circuitOpened'>;
  /** A cluster worker's line to the others (through the primary); absent in-process. */
  readonly announce?: (news: CircuitNews) => void;
}

/**
 * An attempt's outcome the circuit is to judge (a fault of the upstream, with its type, or an
 * answer: undefined). A change it makes is logged and counted by this process alone, as an
 * ejection is, and told to the other workers, which take it silently: one opening is one line,
 * one count, whatever the number of workers. Without the line, the 503s of an open circuit were
 * all an operator saw, each naming the circuit, none saying when or why it opened; a gauge
 * scraped every 15 s misses an opening of 5 s.
 */
export function judgeCircuit(
  circuit: Circuit,
  upstream: string,
  fault: FailureType | undefined,
  probe: boolean,
  now: number,
  sinks: CircuitSinks,
  /** The target whose attempt this outcome is, told with an opening. */
  origin?: string,
): void {
  const openUntil = circuit.openUntil;
  const wasClosed = isClosed(circuit, now);
  circuit.record(now, fault !== undefined, probe);
  // Opened (or opened again by a failed probe) by this outcome.
  if (circuit.openUntil > openUntil) {
    const forMs = circuit.openUntil - now;
    // Already open (another probe of the same half-open turn failed first, or another worker's
    // news opened it while this one's probe was out): its time pushed on, no opening of its own.
    if (openUntil <= now) {
      sinks.metrics.circuitOpened(upstream);
      sinks.logger.warn(
        {
          upstream,
          reason: fault,
          by: probe ? 'probe' : 'failures',
          until: new Date(performance.timeOrigin + circuit.openUntil).toISOString(),
          for_ms: Math.round(forMs),
        },
        'circuit opened',
      );
    }
    sinks.announce?.({
      candor: 'circuit-opened',
      upstream,
      forMs,
      ...(fault === undefined || origin === undefined ? {} : { failure: { type: fault, origin, ageMs: 0 } }),
    });
  }
  // Closed by this probe's success: the other workers need not wait for probes of their own.
  else if (!wasClosed && isClosed(circuit, now)) {
    sinks.logger.info({ upstream }, 'circuit closed');
    sinks.announce?.({ candor: 'circuit-closed', upstream });
  }
}

/**
 * The retry of a half-open probe whose failure opened the circuit again was answered (by a target
 * the probe had not tried: one back from a restart, still ejected, beside the one refusing that the
 * probe met): the upstream answers, and the circuit closes as for the probe's own success, logged
 * and told to the other workers alike.
 */
export function probeRetryAnswered(
  circuit: Circuit,
  upstream: string,
  now: number,
  sinks: CircuitSinks,
): void {
  if (isClosed(circuit, now)) return;
  circuit.probeRetryAnswered();
  sinks.logger.info({ upstream }, 'circuit closed');
  sinks.announce?.({ candor: 'circuit-closed', upstream });
}

/** Another worker's news: this worker's circuit of the same upstream takes the same state. */
export function applyCircuitNews(circuit: Circuit, news: CircuitNews, now: number): void {
  if (news.candor === 'circuit-opened') circuit.openedElsewhere(now, news.forMs);
  else circuit.closedElsewhere();
}

/** (A call, not a property test: record() changes the state between two of them.) */
function isClosed(circuit: Circuit, now: number): boolean {
  return circuit.stateAt(now) === 'closed';
}
