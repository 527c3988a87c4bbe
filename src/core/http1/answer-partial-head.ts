/**
 * A response head (or trailer section) that has not come whole yet, checked as it comes
 * (answer-parser.ts): an upstream speaking another protocol (an SSH banner, JSON, HTML),
 * ending lines with bare LF or sending a bad field line fails now, not when it goes quiet or
 * closes (a timeout or a close, which would blame the wrong thing and be retried). Each byte
 * is looked at once.
 */

import { notHttpDetails } from './answer-faults.ts';
import { PartialLineCheck, type PartialLineFault } from './answer-partial-line.ts';
import { EndedLinesCheck } from './field-lines.ts';
import type { StatusLine } from './status-line.ts';
import { CR, LF, latin1 } from './syntax.ts';

const HTTP_SLASH = Buffer.from('HTTP/', 'latin1');

export class PartialSectionCheck {
  /** The status line of the head being collected passed the early check (fail fast on non-HTTP bytes). */
  #statusLineChecked = false;
  /** In the head (or trailers) being collected: its field lines checked as they end. */
  readonly #ended = new EndedLinesCheck();
  /** The line of that head not ended yet: where it starts (-1: none looked at), and its check (made at the first head in pieces). */
  #partialStart = -1;
  #partial: PartialLineCheck | undefined = undefined;

  /** The section was read whole (or refused): the next one is checked from its start. */
  reset(): void {
    this.#ended.reset();
    this.#partialStart = -1;
  }

  /** A new head follows (a new response's, or the same response's after a 1xx): its status line is checked again. */
  nextHead(): void {
    this.#statusLineChecked = false;
    this.#partialStart = -1;
  }

  /**
   * The head so far (`acc`, of which the bytes from `from` on are new), its status line read
   * into `line` once it ends: its first fault, undefined while none is known.
   */
  head(acc: Buffer, from: number, line: StatusLine, upgradeAsked: boolean): PartialLineFault | undefined {
    if (!this.#statusLineChecked) {
      // First, so that another protocol is named as such even when its lines end in a bare LF.
      const n = Math.min(acc.length, HTTP_SLASH.length);
      if (acc.compare(HTTP_SLASH, 0, n, 0, n) !== 0) return notHttpDetails(acc);
    }
    const bare = bareLf(acc, from, 'the response head');
    if (bare !== undefined) return bare;
    if (!this.#statusLineChecked) {
      const lf = acc.indexOf(LF);
      if (lf === -1) return this.#line(acc, 0, true, upgradeAsked);
      const refused = line.parse(latin1(acc, 0, lf - 1), lf - 1);
      if (refused !== undefined) return refused;
      this.#statusLineChecked = true;
      this.#ended.to = lf + 1;
    }
    // Lines that ended in the new bytes, then the one that has not (each byte looked at once).
    if (acc.indexOf(LF, from) !== -1) {
      const error = this.#ended.check(acc, true);
      if (error !== undefined) return error;
    }
    return this.#line(acc, this.#ended.to, false, upgradeAsked);
  }

  /**
   * The trailer section so far (`acc`, from the last-chunk line's CRLF; the bytes from `from`
   * on are new): its first fault, undefined while none is known.
   */
  trailers(acc: Buffer, from: number, upgradeAsked: boolean): PartialLineFault | undefined {
    const bare = bareLf(acc, from, 'the trailer section');
    if (bare !== undefined) return bare;
    // Whole trailer lines are checked as they come, like a head's: a bad one fails now, not
    // when the upstream closes (which would read as a body cut short).
    if (this.#ended.to === 0) this.#ended.to = 2;
    if (acc.indexOf(LF, from) !== -1) {
      const error = this.#ended.check(acc, true);
      if (error !== undefined) return error;
    }
    return this.#line(acc, this.#ended.to, false, upgradeAsked);
  }

  /**
   * The line not ended yet, its new bytes only (PartialLineCheck): a byte no ending could make
   * valid fails now, not when the upstream goes quiet or closes.
   */
  #line(
    acc: Buffer,
    start: number,
    statusLine: boolean,
    upgradeAsked: boolean,
  ): PartialLineFault | undefined {
    // Made at the first head that comes in pieces: most connections never see one.
    this.#partial ??= new PartialLineCheck(this.#ended);
    const partial = this.#partial;
    if (start !== this.#partialStart) {
      this.#partialStart = start;
      partial.begin(start, statusLine);
    }
    return partial.check(acc, start, upgradeAsked);
  }
}

/** Every LF from `from` on must follow a CR: the protocol error's details when one does not. */
function bareLf(acc: Buffer, from: number, where: string): string | undefined {
  for (let lf = acc.indexOf(LF, from); lf !== -1; lf = acc.indexOf(LF, lf + 1)) {
    if (lf === 0 || acc[lf - 1] !== CR) return `bare LF line ending in ${where}`;
  }
  return undefined;
}
