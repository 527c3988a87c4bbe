/**
 * What to show of a response head the gateway's parser refused. The parser says why, not
 * where, nor what the rest of the head held; both are found here by asking the parser again
 * about other bytes, so that no rule of its is restated (and none can drift from it).
 */
import type { Failure } from '../../core/failure/failure.ts';
import { AnswerReader } from './answer-reader.ts';

const LF = 0x0a;
const CRLF = Buffer.from('\r\n', 'latin1');

/**
 * The head read as the answer to a HEAD request: the parser then expects no body, so it judges
 * no Transfer-Encoding (and, masked below, no Content-Length). A head refused only for its body framing is accepted
 * that way, and its status line and fields can be shown; undefined when its syntax is refused too.
 */
export function readAsBodiless(received: Buffer): AnswerReader | undefined {
  // The parser checks Content-Length even on a HEAD's answer (the field is forwarded), so the
  // fields go in under a name of the same length it does not know, and get their own back after.
  const reader = new AnswerReader('HEAD');
  const masked = Buffer.from(received.toString('latin1').replace(CONTENT_LENGTH_NAME, maskName), 'latin1');
  if (reader.feed(masked) !== undefined || reader.head === undefined) return undefined;
  const { headers } = reader.head;
  for (let i = 0; i < headers.length; i += 2)
    if (MASKED_NAME.test(headers[i]))
      headers[i] = headers[i].slice(0, -1) + (headers[i].endsWith('~') ? 'h' : 'H');
  return reader;
}

/** A Content-Length field name at the start of a line; masked by swapping its last letter for a tchar. */
const CONTENT_LENGTH_NAME = /(?<=\n)content-lengt[hH](?=[\t ]*:)/gi;
const MASKED_NAME = /^content-lengt[~|]$/i;
const maskName = (name: string): string => name.slice(0, -1) + (name.endsWith('h') ? '~' : '|');

/**
 * The line the refusal is about: the head cut after each of its lines, and ended there with an
 * empty line, goes to a fresh parser; the first cut refused with the same failure type ends at
 * the offending line. (The type, not the details: a bare LF is worded differently in a head
 * that is not complete yet.) Quadratic in the head's lines, but it runs once, on a refused head
 * within the gateway's 32 KiB.
 */
export function offendingLine(received: Buffer, failure: Failure, method: string): string | undefined {
  let start = 0;
  for (let lf = received.indexOf(LF); lf !== -1; start = lf + 1, lf = received.indexOf(LF, start)) {
    // An empty line ends a head (an interim one): it is not a line of the head to blame.
    const empty = lf === start || (lf === start + 1 && received[start] === 0x0d);
    if (empty) continue;
    const cut = Buffer.concat([received.subarray(0, lf + 1), CRLF]);
    if (new AnswerReader(method).feed(cut)?.type === failure.type)
      return received.toString('latin1', start, received[lf - 1] === 0x0d ? lf - 1 : lf);
  }
  return undefined;
}

/**
 * The longest line of a head over the size limit, and its field name: what to shorten first.
 * `cut`: the read stopped inside that line (past the limit, nothing more is read), so `bytes`
 * is only what came of it.
 */
export function largestField(received: Buffer): { name: string; bytes: number; cut?: true } | undefined {
  let best: { name: string; bytes: number; cut?: true } | undefined;
  let start = received.indexOf(LF) + 1;
  while (start > 0 && start < received.length) {
    const lf = received.indexOf(LF, start);
    const end = lf === -1 ? received.length : lf;
    if (best === undefined || end - start > best.bytes) {
      const colon = received.indexOf(0x3a, start);
      const name = colon === -1 || colon > end ? '(no name)' : received.toString('latin1', start, colon);
      best = lf === -1 ? { name, bytes: end - start, cut: true } : { name, bytes: end - start };
    }
    start = lf === -1 ? -1 : lf + 1;
  }
  return best;
}
