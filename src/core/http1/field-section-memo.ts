/**
 * The last field section a kind of parser read whole and valid (readFieldLines: a request's, an
 * answer's), with the name, value pairs read from it. A client sends the same fields request
 * after request, and an upstream the same answer's (its Date aside, within its second): a section
 * equal to the last one is read as that one was, without the regular expression that checks it,
 * the scan that splits it and a slice a name and a value (some 0.3 µs a request for the two
 * heads under perf, issue 61). Its strings are then the very ones the head before had, so what
 * compares them with the last head's (field-line-memo.ts, a route's hostname) finds them equal
 * by identity, where two slices of two heads were compared in the runtime (some 30 ns each).
 *
 * One section is kept, not a table: interleaved clients miss, and a miss costs the comparison
 * of the text up to where it differs, so a memo that missed several times in a row compares
 * again only after as many sections as that gave (up to 63), as field-line-memo.ts does.
 *
 * What a parser works out from the section's fields (an answer's framing fields) is kept with
 * it too (`facts`): the same strings say the same, so a section recalled is not read again.
 */

/** The most misses in a row counted: the memo then waits 2^(MAX_MISSES-1) - 1 sections between comparisons. */
const MAX_MISSES = 7;

export class FieldSectionMemo<Facts = never> {
  /** The section last kept ('' until one is): field lines, each with its CRLF. */
  #section = '';
  /** Its fields, as readFieldLines read them: handed out as copies (a parser's caller may change its list). */
  #fields: string[] = [];
  #misses = 0;
  /** Sections to go before the next comparison. */
  #wait = 0;
  /** What was worked out from the section kept (attachFacts), undefined until then. */
  #facts: Facts | undefined = undefined;
  /** Whether the section last offered (recall, then keep) is the one kept: its facts are its own. */
  #lastIsKept = false;

  /** The fields of text[pos, end) when it is the section kept (a list of their own), else undefined. */
  recall(text: string, pos: number, end: number): string[] | undefined {
    this.#lastIsKept = false;
    if (this.#wait > 0) {
      this.#wait--;
      return undefined;
    }
    const section = this.#section;
    // Compared as a slice: two flat strings are compared by the runtime as their bytes (memcmp),
    // where startsWith(section, pos) read them a character at a time (slower than the check it
    // saves: some 2 ns a character).
    if (section !== '' && section.length === end - pos && text.slice(pos, end) === section) {
      this.#misses = 0;
      this.#lastIsKept = true;
      return this.#fields.slice();
    }
    this.#misses = Math.min(this.#misses + 1, MAX_MISSES);
    this.#wait = (1 << (this.#misses - 1)) - 1;
    return undefined;
  }

  /**
   * After a section recall() did not give: keeps text[pos, end) and its `fields` when the next
   * section is compared (not while the memo waits: a section kept then would be stale by then).
   */
  keep(text: string, pos: number, end: number, fields: readonly string[]): void {
    if (this.#wait > 0) return;
    this.#section = text.slice(pos, end);
    this.#fields = fields.slice();
    this.#facts = undefined;
    this.#lastIsKept = true;
  }

  /** What attachFacts kept for the section last offered, when that is the one kept; else undefined. */
  factsOfLast(): Facts | undefined {
    return this.#lastIsKept ? this.#facts : undefined;
  }

  /**
   * Keeps what was worked out from the section last offered, when that is the one kept (a
   * section not kept, offered while the memo waits, leaves the kept one's facts as they are).
   */
  attachFacts(facts: Facts): void {
    if (this.#lastIsKept) this.#facts = facts;
  }
}
