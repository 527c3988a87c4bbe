/**
 * An answer that is good HTTP but none the gateway can use: an auth service's status that neither
 * lets a request in nor refuses it (a 404 from a wrong path, a 407, a 418), a JWKS endpoint's
 * answer that is no key set (its 404, a body that is not JSON, a key it cannot use). Its type
 * stays http_protocol_error (502, the garbage shape: DESIGN.md's table for an auth hop); its words
 * are the `unusable_answer` variant's (variants.ts).
 */
import { Failure } from './failure.ts';

/** An auth hop's answer that is good HTTP but none it can use, `details` saying what it was. */
export function unusableAnswer(details: string): Failure {
  return new Failure('http_protocol_error', details, { stage: 'head_received', variant: 'unusable_answer' });
}
