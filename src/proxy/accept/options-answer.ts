import { OwnAnswer } from '../../core/net/own-answer.ts';
import { ALLOW } from '../decide/error-answer.ts';

/**
 * What `OPTIONS *` (RFC 9110 §9.3.7), or an OPTIONS whose Max-Forwards is spent, is answered:
 * the methods Candor passes on, from the gateway itself.
 */
export const OPTIONS_ANSWER = new OwnAnswer(200, ['allow', ALLOW]);
