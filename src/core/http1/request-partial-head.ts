/**
 * A request head that has not come whole yet, checked as it comes (request-parser.ts): a client
 * speaking another protocol, a malformed request line or a bad field line is refused as soon as
 * it is there rather than at the header timeout, a 408 that would log garbage as a slow client.
 */
import { EndedLinesCheck } from './field-lines.ts';
import type { RequestParserLimits } from './parsed-request.ts';
import {
  fieldLineBreak,
  lineEndsBreak,
  overlongMethodBreak,
  targetTooLong,
  unendedLineBreak,
} from './request-faults.ts';
import { parseRequestLine } from './request-line.ts';
import { LONGEST_METHOD, type RuleBreak } from './request-rules.ts';
import { CR, LF, latin1 } from './syntax.ts';

/** A space, between a request line's method and target and between its target and version. */
const SP = 0x20;

/**
 * The head so far, when its method is already longer than any the gateway knows while a token:
 * its 501, naming the method as far as it came. Only its first bytes are looked at until then.
 */
function overlongMethod(acc: Buffer): RuleBreak | undefined {
  if (overlongMethodBreak(latin1(acc, 0, Math.min(acc.length, LONGEST_METHOD + 1))) === undefined)
    return undefined;
  return overlongMethodBreak(latin1(acc, 0, acc.length));
}

export class PartialHeadCheck {
  /** The request line of the head being collected was checked (a bad one fails before the head ends). */
  #lineChecked = false;
  /** In the head being collected: its field lines checked as they end. */
  readonly #ended = new EndedLinesCheck();
  /**
   * A request line not ended yet whose method was checked whole: where its space is (-1 before).
   * Its target's bytes are then looked at once each, as they come: a line looked at again whole
   * at every read made a target dripped a byte a read cost its length squared.
   */
  #methodEnd = -1;

  /** Forgets the head: the next one is checked from its start. */
  reset(): void {
    this.#lineChecked = false;
    this.#methodEnd = -1;
    this.#ended.reset();
  }

  /**
   * The head so far (`acc`, of which the bytes from `from` on are new): the rule its first
   * fault breaks, undefined while none is known. Each line is looked at once.
   */
  check(acc: Buffer, from: number, limits: RequestParserLimits): RuleBreak | undefined {
    let checkFrom = from > 0 ? from - 1 : 0;
    if (!this.#lineChecked) {
      // In the order the bytes came: a method past any known is the line's first fault (its
      // bytes are a token up to there: a bare CR or LF, or any other fault, comes after).
      if (this.#methodEnd === -1) {
        const overlong = overlongMethod(acc);
        if (overlong !== undefined) return overlong;
      }
      // The request line's faults before those of later lines.
      // (The bytes before `from` held no LF: the line would have been checked.)
      const lf = acc.indexOf(LF, checkFrom);
      const lineEnd = lf === -1 ? acc.length : lf + 1;
      const bare = lineEndsBreak(acc, checkFrom, lineEnd);
      if (bare !== undefined) return bare;
      if (lf === -1) return this.#unendedLine(acc, checkFrom, limits);
      this.#lineChecked = true;
      const broken = parseRequestLine(latin1(acc, 0, lf - 1), limits);
      if (broken !== undefined) return broken;
      checkFrom = lineEnd;
      this.#ended.to = lineEnd;
    }
    const bare = lineEndsBreak(acc, checkFrom, acc.length);
    if (bare !== undefined) return bare;
    // The field lines completed since the last look, checked as the whole head will be.
    const error = this.#ended.check(acc, false, checkFrom);
    return error === undefined ? undefined : fieldLineBreak(error);
  }

  /**
   * The request line so far (no LF in `acc`; its bytes from `from` on are new): the rule it
   * already breaks. While its target comes, only the new bytes are looked at (is the target's
   * end among them? is it past the limit?); the method, and the few bytes of a version, are
   * checked with the whole line as it stands.
   */
  #unendedLine(acc: Buffer, from: number, limits: RequestParserLimits): RuleBreak | undefined {
    const methodEnd = this.#methodEnd;
    if (methodEnd !== -1) {
      if (acc.indexOf(SP, Math.max(from, methodEnd + 1)) === -1) {
        // A CR last may be the line's end: not the target's.
        const end = acc[acc.length - 1] === CR ? acc.length - 1 : acc.length;
        return end - methodEnd - 1 > limits.uriLength ? targetTooLong(limits.uriLength) : undefined;
      }
      // The target ended: what follows is a version (a few bytes), checked with the whole line.
      this.#methodEnd = -1;
    }
    const broken = unendedLineBreak(acc, limits.uriLength, limits.proxyProtocol === true);
    // Past the method, and its target not ended: the target's bytes are looked at as they come.
    if (broken === undefined && methodEnd === -1) {
      const space = acc.indexOf(SP);
      if (space !== -1 && acc.indexOf(SP, space + 1) === -1) this.#methodEnd = space;
    }
    return broken;
  }
}
