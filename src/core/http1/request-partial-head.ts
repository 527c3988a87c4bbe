/**
 * A request head that has not come whole yet, checked as it comes (request-parser.ts): a client
 * speaking another protocol, a malformed request line or a bad field line is refused as soon as
 * it is there rather than at the header timeout, a 408 that would log garbage as a slow client.
 */
import { EndedLinesCheck } from './field-lines.ts';
import type { RequestParserLimits } from './parsed-request.ts';
import { fieldLineBreak, lineEndsBreak, unendedLineBreak } from './request-faults.ts';
import { parseRequestLine } from './request-line.ts';
import type { RuleBreak } from './request-rules.ts';
import { LF, latin1 } from './syntax.ts';

export class PartialHeadCheck {
  /** The request line of the head being collected was checked (a bad one fails before the head ends). */
  #lineChecked = false;
  /** In the head being collected: its field lines checked as they end. */
  readonly #ended = new EndedLinesCheck();

  /** Forgets the head: the next one is checked from its start. */
  reset(): void {
    this.#lineChecked = false;
    this.#ended.reset();
  }

  /**
   * The head so far (`acc`, of which the bytes from `from` on are new): the rule its first
   * fault breaks, undefined while none is known. Each line is looked at once.
   */
  check(acc: Buffer, from: number, limits: RequestParserLimits): RuleBreak | undefined {
    let checkFrom = from > 0 ? from - 1 : 0;
    if (!this.#lineChecked) {
      // In the order the bytes came: the request line's faults before those of later lines.
      const lf = acc.indexOf(LF);
      const lineEnd = lf === -1 ? acc.length : lf + 1;
      const bare = lineEndsBreak(acc, checkFrom, lineEnd);
      if (bare !== undefined) return bare;
      if (lf === -1) return unendedLineBreak(acc, limits.uriLength, limits.proxyProtocol === true);
      this.#lineChecked = true;
      const broken = parseRequestLine(latin1(acc, 0, lf - 1), limits);
      if (broken !== undefined) return broken;
      checkFrom = lineEnd;
      this.#ended.to = lineEnd;
    }
    const bare = lineEndsBreak(acc, checkFrom, acc.length);
    if (bare !== undefined) return bare;
    // The field lines completed since the last look, checked as the whole head will be.
    const error = this.#ended.check(acc, false);
    return error === undefined ? undefined : fieldLineBreak(error);
  }
}
