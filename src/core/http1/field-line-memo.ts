/**
 * The field lines a head serializer (request-head.ts, answer-head.ts) wrote, by their place in
 * the head. A head's fields are mostly those the head before had at the same place: this hop's
 * Forwarded, X-Forwarded-* and Via, a client's Host, an upstream's Server, Content-Type, Content-
 * Length and, within its second, Date. A head is joined from its pieces once, and the join costs
 * per piece, whatever its length (some 9 ns alone, 10–20 in a worker under load: Array.join was
 * Candor's costliest builtin, 1.3 µs a request for the two heads' 70 pieces, perf, issue 61): a
 * field equal to the one before at its place goes in as the one line made for it, not as four
 * pieces. The wrk request's and nginx's answer's heads go from 37 and 32 pieces to 19 and 12.
 *
 * A field that is another at each head (a request id, a cookie, the heads of many clients in
 * turn) costs its comparison instead (for a slice, a call into the runtime: some 30 ns), so a
 * place that missed several times in a row is compared again only after as many heads as that
 * gave, up to 63: heads whose fields all differ cost what they did without the memo.
 *
 * What it keeps: the last name and value compared at each of the first PLACES places (slices of
 * the heads they came in, which they keep alive until another head's replace them) and the
 * line, made once a field came twice at its place.
 */

/** Places remembered: past them, a field goes as its four pieces. */
const PLACES = 32;
/** The most misses in a row a place counts: it then waits 2^(MAX_MISSES-1) - 1 heads between comparisons. */
const MAX_MISSES = 7;
const CRLF = '\r\n';
const CRLF_CRLF = '\r\n\r\n';

export class FieldLineMemo {
  readonly #names: string[] = new Array(PLACES).fill('');
  readonly #values: string[] = new Array(PLACES).fill('');
  /** The line of the name and value at each place, once they came twice in a row ('' until then). */
  readonly #lines: string[] = new Array(PLACES).fill('');
  /** How many times in a row each place's field was not the one remembered (up to MAX_MISSES). */
  readonly #misses = new Uint8Array(PLACES);
  /** How many heads each place goes uncompared still. */
  readonly #waits = new Uint8Array(PLACES);

  /**
   * Puts the field `name: value` at `place` (its index among the head's fields) into `parts` from
   * `n`, as its line ("name: value\r\n") or as four pieces; returns the next free index.
   */
  put(parts: string[], n: number, place: number, name: string, value: string): number {
    if (place < PLACES) {
      if (this.#waits[place] > 0) this.#waits[place]--;
      else if (this.#names[place] === name && this.#values[place] === value) {
        this.#misses[place] = 0;
        let line = this.#lines[place];
        // Joined, not concatenated: a flat string, copied in one piece by every join after.
        if (line === '') line = this.#lines[place] = [name, ': ', value, '\r\n'].join('');
        parts[n] = line;
        return n + 1;
      } else {
        const misses = Math.min(this.#misses[place] + 1, MAX_MISSES);
        this.#misses[place] = misses;
        this.#waits[place] = (1 << (misses - 1)) - 1;
        this.#names[place] = name;
        this.#values[place] = value;
        this.#lines[place] = '';
      }
    }
    parts[n] = name;
    parts[n + 1] = ': ';
    parts[n + 2] = value;
    parts[n + 3] = CRLF;
    return n + 4;
  }
}

/**
 * Ends a head's pieces in `parts` (its next free index `n`) with the empty line; returns the
 * next free index. A last field line that went as its pieces ends in the CRLF piece: that and
 * the empty line go as one piece (a piece fewer for the join, which costs a piece whatever its
 * length).
 */
export function endHead(parts: string[], n: number): number {
  if (parts[n - 1] === CRLF) {
    parts[n - 1] = CRLF_CRLF;
    return n;
  }
  parts[n] = CRLF;
  return n + 1;
}
