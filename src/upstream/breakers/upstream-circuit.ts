import { type Circuit, type CircuitBreakerConfig, createCircuit } from '../../core/retry/circuit.ts';

/**
 * News of a worker's circuit for the others of a cluster (through the primary): it opened, for
 * the ms it has left (each process has its own clock), or a probe closed it.
 */
export type CircuitNews =
  | { readonly candor: 'circuit-opened'; readonly upstream: string; readonly forMs: number }
  | { readonly candor: 'circuit-closed'; readonly upstream: string };

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

/**
 * An attempt's outcome the circuit is to judge (a fault of the upstream, or an answer): a change
 * it makes is told to the other workers, so each does not learn of it on its own.
 */
export function judgeCircuit(
  circuit: Circuit,
  upstream: string,
  fault: boolean,
  probe: boolean,
  now: number,
  announce: ((news: CircuitNews) => void) | undefined,
): void {
  const openUntil = circuit.openUntil;
  const wasClosed = isClosed(circuit, now);
  circuit.record(now, fault, probe);
  // Opened (or opened again by a failed probe) by this outcome.
  if (circuit.openUntil > openUntil)
    announce?.({ candor: 'circuit-opened', upstream, forMs: circuit.openUntil - now });
  // Closed by this probe's success: the other workers need not wait for probes of their own.
  else if (!wasClosed && isClosed(circuit, now)) announce?.({ candor: 'circuit-closed', upstream });
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
