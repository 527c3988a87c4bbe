import { Failure } from '../../core/failure/failure.ts';

/**
 * The refusals of an upstream's open (or probing) circuit, as the select phase makes them
 * (proxy/select/select-target.ts): no call was made. An auth hop's row keeps the failure that
 * opened its circuit as its latest (AuthHopHealth.failed), not one of these.
 */
const refusals = new WeakSet<Failure>();

/** `failure`, marked as the circuit's refusal. */
export function circuitRefusal(failure: Failure): Failure {
  refusals.add(failure);
  return failure;
}

/** Whether `failure` is the circuit's refusal, not a failure of a call. */
export function isCircuitRefusal(failure: unknown): boolean {
  return failure instanceof Failure && refusals.has(failure);
}
