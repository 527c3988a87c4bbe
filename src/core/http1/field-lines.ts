/**
 * Field lines (RFC 9112 §5), as both strict parsers read them: a request's head and trailers
 * (request-parser.ts), a response's (answer-parser.ts). One reader, so that the two cannot
 * drift on what a field line is; the one rule they differ on by the RFC is an argument.
 *
 * Fast because every head goes through it: one sticky regex checks all the lines at once, then
 * each is split with indexOf; only a section known to be invalid is walked line by line, to
 * name its first fault. The reader names faults; each parser words them as its failures go
 * (llhttp's codes for a client, the failure taxonomy for an upstream).
 */
import type { AnswerFieldsSaid } from './answer-framing-fields.ts';
import { FieldSectionMemo } from './field-section-memo.ts';
import { INVALID_VALUE, isOws, LF, latin1, TOKEN } from './syntax.ts';

/** At most this many fields in a section (head or trailers): beyond it the section counts as too large. */
export const MAX_FIELDS = 256;

/**
 * Whole field lines from lastIndex on, as many as there are: token, colon (nothing between),
 * value, CRLF. The lines are valid when they reach the section's end (wholeLines): no class
 * holds CR, so where each line ends is certain and nothing backtracks; at the end of a head
 * stands the empty line, which no field line begins with.
 */
const LINES = /(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t\x20-\x7e\x80-\xff]*\r\n)*/y;
/** The same with whitespace allowed before the colon. */
const LINES_WS_BEFORE_COLON = /(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+[\t ]*:[\t\x20-\x7e\x80-\xff]*\r\n)*/y;

/** Whether text[pos, end) is whole field lines, as `wsBeforeColon` allows them. */
function wholeLines(text: string, pos: number, end: number, wsBeforeColon: boolean): boolean {
  const lines = wsBeforeColon ? LINES_WS_BEFORE_COLON : LINES;
  lines.lastIndex = pos;
  return lines.test(text) && lines.lastIndex === end;
}

/**
 * What is wrong with a section, the first fault in the order the bytes came:
 * - `bare-lf`, `bare-cr`: a line end other than CRLF (then nothing else of the line is trusted);
 * - `leading-whitespace`: before the first field; `obs-fold`: a line folded onto the one before;
 * - `no-colon`, `empty-name`, `invalid-name` (not a token, or whitespace before the colon where
 *   it is refused); `invalid-value`: a control other than HTAB, or DEL;
 * - `too-many`: more than MAX_FIELDS fields.
 */
export type FieldFault =
  | 'bare-lf'
  | 'bare-cr'
  | 'leading-whitespace'
  | 'obs-fold'
  | 'no-colon'
  | 'empty-name'
  | 'invalid-name'
  | 'invalid-value'
  | 'too-many'
  | 'invalid';

export interface FieldError {
  readonly fault: FieldFault;
  /**
   * The field's name as far as the line has one: the faulty name, the name whose value broke or
   * whose line had a bare CR or LF after its colon, the name before an obs-fold; '' otherwise.
   */
  readonly name: string;
  /** The line at fault, without its CRLF. */
  readonly line: string;
}

/**
 * Reads the field lines of text[pos, end) (every one ending in CRLF; `end` is the text's end, or
 * where the empty line that ends a head begins): name, value pairs, names as received, values
 * without the OWS around them; or the section's first fault. `wsBeforeColon`:
 * whitespace between a name and its colon is removed (a response: RFC 9112 §5.1, a proxy MUST
 * remove it before forwarding) rather than refused (a request: the server MUST answer 400).
 */
export function readFieldLines(
  text: string,
  pos: number,
  wsBeforeColon: boolean,
  end = text.length,
): string[] | FieldError {
  const memo = wsBeforeColon ? ANSWERS_READ : REQUESTS_READ;
  const known = memo.recall(text, pos, end);
  if (known !== undefined) return known;
  const start = pos;
  if (!wholeLines(text, pos, end, wsBeforeColon)) return fieldFault(text.slice(0, end), pos, wsBeforeColon);
  // Each line's bounds found first, its strings sliced once they are all known: the list is
  // then made to size (pushed from empty, it took room for 19 entries where a small head has 6:
  // V8 grows a list by half and 16; an empty one given its length took the runtime's length
  // setter and a copy of its store), without a pass of its own to count the lines (one indexOf
  // a line, 0.1 µs a request for the two heads under perf, issue 61).
  const bounds = BOUNDS;
  let fields = 0;
  while (pos < end) {
    // Names are tokens, so the first colon ends the name; values hold no CR, so the next CR ends the line.
    const colon = text.indexOf(':', pos);
    const eol = text.indexOf('\r', colon);
    if (fields === MAX_FIELDS) return { fault: 'too-many', name: '', line: text.slice(pos, eol) };
    let nameEnd = colon;
    if (wsBeforeColon) while (isOws(text.charCodeAt(nameEnd - 1))) nameEnd--;
    let valueStart = colon + 1;
    let valueEnd = eol;
    while (valueStart < valueEnd && isOws(text.charCodeAt(valueStart))) valueStart++;
    while (valueEnd > valueStart && isOws(text.charCodeAt(valueEnd - 1))) valueEnd--;
    const at = 4 * fields++;
    bounds[at] = pos;
    bounds[at + 1] = nameEnd;
    bounds[at + 2] = valueStart;
    bounds[at + 3] = valueEnd;
    pos = eol + 2;
  }
  const out: string[] = new Array(2 * fields);
  for (let i = 0; i < fields; i++) {
    const at = 4 * i;
    const valueStart = bounds[at + 2];
    const valueEnd = bounds[at + 3];
    out[2 * i] = text.slice(bounds[at], bounds[at + 1]);
    out[2 * i + 1] = valueStart === valueEnd ? '' : text.slice(valueStart, valueEnd);
  }
  memo.keep(text, start, end, out);
  return out;
}

/**
 * The last section read of each kind, by its rule: requests' (no whitespace before a colon),
 * answers' (with what their framing fields say, which AnswerFramingFields reads once a section).
 */
const REQUESTS_READ = new FieldSectionMemo();
export const ANSWERS_READ = new FieldSectionMemo<AnswerFieldsSaid>();

/**
 * The bounds of the lines readFieldLines reads (a line's start, its name's end, its value's
 * start and end), one store for every section: numbers, so that filling it stores no reference.
 */
const BOUNDS = new Int32Array(4 * MAX_FIELDS);

/**
 * A head still arriving, checked as its lines come: the field lines that ended since the last
 * look are checked as the whole head will be, each line once, so that a peer sending a bad one
 * and then nothing fails now, not when its time runs out. One per parser, reset for each head.
 */
export class EndedLinesCheck {
  /** Where, in the head's bytes, the lines not checked yet begin (0: its start line is not past yet). */
  to = 0;
  /** How many lines were checked, and the last one's name: what an obs-fold or the field count needs. */
  count = 0;
  lastName = '';

  reset(): void {
    this.to = 0;
    this.count = 0;
    this.lastName = '';
  }

  /**
   * The lines of `acc` that ended since `to` (every LF in it known to follow a CR): their first
   * fault, or undefined. `wsBeforeColon` as checkFieldLines takes it. `from`: where the bytes
   * not seen at the last call begin (no line ended before it since): a line that has not ended
   * is then not looked at again whole at every read, which made one dripped a byte a read cost
   * its length squared.
   */
  check(acc: Buffer, wsBeforeColon: boolean, from = 0): FieldError | undefined {
    if (from > this.to && acc.indexOf(LF, from) === -1) return undefined;
    const lastLf = acc.lastIndexOf(LF);
    if (lastLf < this.to) return undefined;
    const text = latin1(acc, this.to, lastLf + 1);
    const error = checkFieldLines(text, wsBeforeColon, this.count, this.lastName);
    if (error !== undefined) return error;
    for (let lf = text.indexOf('\n'); lf !== -1; lf = text.indexOf('\n', lf + 1)) this.count++;
    const lastStart = text.lastIndexOf('\n', text.length - 2) + 1;
    this.lastName = text.slice(lastStart, text.indexOf(':', lastStart)).trimEnd();
    this.to = lastLf + 1;
    return undefined;
  }
}

/**
 * Checks whole field lines without keeping them: `fieldsBefore` lines were checked before, the
 * last of them named `previousName`.
 */
export function checkFieldLines(
  text: string,
  wsBeforeColon: boolean,
  fieldsBefore: number,
  previousName: string,
): FieldError | undefined {
  return wholeLines(text, 0, text.length, wsBeforeColon)
    ? undefined
    : fieldFault(text, 0, wsBeforeColon, fieldsBefore, previousName);
}

/** The slow path, for a section known to be invalid: its first fault. */
function fieldFault(
  text: string,
  pos: number,
  wsBeforeColon: boolean,
  fieldsBefore = 0,
  previousName = '',
): FieldError {
  let fields = fieldsBefore;
  let previous = previousName;
  while (pos < text.length) {
    let eol = text.indexOf('\r\n', pos);
    if (eol === -1) eol = text.length;
    const line = text.slice(pos, eol);
    const colon = line.indexOf(':');
    const lf = line.indexOf('\n');
    const cr = line.indexOf('\r');
    if (lf !== -1 || cr !== -1) {
      const at = lf !== -1 ? lf : cr;
      const name = colon !== -1 && colon < at ? nameOf(line, colon, wsBeforeColon) : '';
      return { fault: lf !== -1 ? 'bare-lf' : 'bare-cr', name, line };
    }
    if (isOws(line.charCodeAt(0)))
      return { fault: fields === 0 ? 'leading-whitespace' : 'obs-fold', name: previous, line };
    if (colon === -1) return { fault: 'no-colon', name: '', line };
    const name = nameOf(line, colon, wsBeforeColon);
    if (name === '') return { fault: 'empty-name', name, line };
    if (!TOKEN.test(name)) return { fault: 'invalid-name', name, line };
    if (INVALID_VALUE.test(line.slice(colon + 1))) return { fault: 'invalid-value', name, line };
    if (++fields > MAX_FIELDS) return { fault: 'too-many', name, line };
    previous = name;
    pos = eol + 2;
  }
  // Not reached while the regexes and the checks above agree; never let a mismatch pass as valid.
  return { fault: 'invalid', name: '', line: '' };
}

/** The name before a colon, without the whitespace before the colon where that is removed. */
function nameOf(line: string, colon: number, wsBeforeColon: boolean): string {
  let end = colon;
  if (wsBeforeColon) while (end > 0 && isOws(line.charCodeAt(end - 1))) end--;
  return line.slice(0, end);
}
