import { ALLOW } from '../decide/error-response.ts';
import type { OwnAnswer } from './acme-challenge.ts';

/**
 * What `OPTIONS *` (RFC 9110 §9.3.7), or an OPTIONS whose Max-Forwards is spent, is answered:
 * the methods Candor passes on, from the gateway itself.
 */
export const OPTIONS_ANSWER: OwnAnswer = {
  status: 200,
  fields: ['allow', ALLOW, 'content-length', '0'],
  body: Buffer.alloc(0),
};
