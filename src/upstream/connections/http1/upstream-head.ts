import type { AnswerHead } from '../../../core/http1/parsed-answer.ts';
import type { UpstreamHead } from '../exchange-contract.ts';

/**
 * The HTTP/1.1 parser's head in the contract's neutral words: whether a body follows and its
 * length when announced. Framing, codings and keep-alive are the connection's own business.
 */
export function upstreamHeadOf(head: AnswerHead): UpstreamHead {
  return {
    status: head.status,
    reason: head.reason,
    version: head.versionMinor === 0 ? '1.0' : '1.1',
    headers: head.headers,
    hasBody: head.framing !== 'none',
    bodyLength: head.framing === 'length' ? head.contentLength : undefined,
  };
}
