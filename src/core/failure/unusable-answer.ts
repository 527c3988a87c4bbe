/**
 * The words for an answer that is good HTTP but none the gateway can use: an auth service's
 * status that neither lets a request in nor refuses it (a 404 from a wrong path, a 407, a 418), a
 * JWKS endpoint's answer that is no key set (its 404, a body that is not JSON, a key it cannot use).
 * Its type stays http_protocol_error (502, the garbage shape: DESIGN.md's table for an auth hop),
 * whose own title says the answer was not HTTP, which is untrue of it.
 */
import { Failure, type FailureWording } from './failure.ts';

const UNUSABLE_ANSWER: FailureWording = {
  title: "Upstream's answer is not one the gateway can use",
  explanation: 'the upstream answered in HTTP, but not with an answer the gateway can use',
};

/** An auth hop's answer that is good HTTP but none it can use, `details` saying what it was. */
export function unusableAnswer(details: string): Failure {
  return new Failure('http_protocol_error', details, { stage: 'head_received', wording: UNUSABLE_ANSWER });
}
