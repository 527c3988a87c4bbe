/**
 * The check of a response head's line not ended yet, for the strict response parser
 * (answer-parser.ts) reading a head that comes in pieces: its new bytes only, so that a byte
 * no ending could make valid (a space inside a field name, a control byte, a CR not before LF,
 * a letter in the status code) fails now, not when the upstream goes quiet or closes. Each byte
 * is looked at once, so a line dripped a byte at a time costs no more than one that came whole.
 * It finds the fault; the parser words it as its failure.
 */
import type { EndedLinesCheck, FieldError } from './field-lines.ts';
import { CR, isOws, isValueByte, latin1, snippet, TCHAR, trimOws } from './syntax.ts';

/** Where the check of the line stands. */
const PART_STATUS = 0; // the status line, up to its status code
const PART_REASON = 1;
const PART_START = 2; // a field line's first byte
const PART_NAME = 3;
const PART_NAME_WS = 4; // whitespace after a name: only more of it, or the colon, may follow
const PART_VALUE = 5;
const PART_CR = 6; // a CR: only LF may follow
const PART_REASON_CR = 7;
/** The status line's shape after "HTTP/": d for a digit. */
const STATUS_SHAPE = Buffer.from('HTTP/d.d ddd ', 'latin1');

/**
 * What is wrong with the line so far: a protocol error's details (the status line's faults), or
 * a field line's fault as a whole line's would be (FieldError).
 */
export type PartialLineFault = string | FieldError;

/** One per parser, made at its first head that comes in pieces; begin() at each new line. */
export class PartialLineCheck {
  /** How far the line was looked at, in which part. */
  private at = 0;
  private part = PART_START;
  /** Where the colon of the line is (-1: not come yet). */
  private colon = -1;
  /** The head's lines that ended: the fields before this line (an obs-fold's name, whether there are any). */
  private readonly ended: EndedLinesCheck;

  constructor(ended: EndedLinesCheck) {
    this.ended = ended;
  }

  /** A new line from `start`: the status line (its "HTTP/" already checked) or a field line. */
  begin(start: number, statusLine: boolean): void {
    this.at = start;
    this.part = statusLine ? PART_STATUS : PART_START;
    this.colon = -1;
  }

  /**
   * The bytes of the line from `start` (begun there) not looked at yet: its first fault, or
   * undefined. `upgradeAsked`: the request asked to switch protocols (a 101 may come).
   */
  check(acc: Buffer, start: number, upgradeAsked: boolean): PartialLineFault | undefined {
    for (let i = this.at; i < acc.length; i++) {
      const c = acc[i];
      switch (this.part) {
        case PART_STATUS: {
          // "HTTP/" was checked; then "d.d ddd" and a space or the line's end.
          const at = i - start;
          const ok =
            at < 5 ||
            (STATUS_SHAPE[at] === 0x64
              ? c >= 0x30 && c <= 0x39
              : at < 12
                ? c === STATUS_SHAPE[at]
                : c === 0x20);
          if (!ok && !(at === 12 && c === CR))
            return `invalid status line ${snippet(latin1(acc, start, acc.length))}`;
          // A version or status code refused whole is refused once it is in, not at the
          // response timeout (a 504 that would blame a slow upstream, and be retried).
          if (at === 7 || at === 11) {
            const refused = statusLineRefusal(acc, start, at, upgradeAsked);
            if (refused !== undefined) return refused;
          }
          if (at === 12) this.part = c === CR ? PART_REASON_CR : PART_REASON;
          break;
        }
        case PART_REASON:
          if (c === CR) this.part = PART_REASON_CR;
          else if (!isValueByte(c)) return 'invalid character in the reason phrase';
          break;
        case PART_REASON_CR:
          // A CR followed by anything but LF (which would have ended the line).
          return 'invalid character in the reason phrase';
        case PART_START:
          if (c === CR) this.part = PART_CR;
          else if (isOws(c))
            return this.fault(acc, start, i, this.ended.count === 0 ? 'leading-whitespace' : 'obs-fold');
          else if (c === 0x3a) return this.fault(acc, start, i, 'empty-name');
          else if (TCHAR[c] === 1) this.part = PART_NAME;
          else return this.fault(acc, start, i, 'invalid-name');
          break;
        case PART_NAME:
        case PART_NAME_WS:
          // RFC 9112 §5.1: whitespace before the colon is removed by a proxy, but no name goes on after it.
          if (c === 0x3a) {
            this.colon = i;
            this.part = PART_VALUE;
          } else if (isOws(c)) this.part = PART_NAME_WS;
          else if (c === CR) return this.fault(acc, start, i, 'no-colon');
          else if (this.part === PART_NAME_WS || TCHAR[c] !== 1)
            return this.fault(acc, start, i, 'invalid-name');
          break;
        case PART_VALUE:
          if (c === CR) this.part = PART_CR;
          else if (!isValueByte(c)) return this.fault(acc, start, i, 'invalid-value');
          break;
        default:
          // PART_CR: a CR followed by anything but LF (which would have ended the line).
          return this.fault(acc, start, i, 'bare-cr');
      }
    }
    this.at = acc.length;
    return undefined;
  }

  /** A fault in the field line not ended yet, as a whole line's would be (the parser's fieldError words both). */
  private fault(acc: Buffer, start: number, at: number, fault: FieldError['fault']): FieldError {
    const line = latin1(acc, start, fault === 'no-colon' ? at : acc.length);
    let name: string;
    if (fault === 'leading-whitespace' || fault === 'obs-fold') name = this.ended.lastName;
    else if (this.colon !== -1) name = trimOws(latin1(acc, start, this.colon));
    else if (fault === 'invalid-name') {
      // The name as far as it came (to a colon or the line's end), as a whole line's fault shows it.
      let end = at;
      while (end < acc.length && acc[end] !== 0x3a && acc[end] !== CR) end++;
      name = trimOws(latin1(acc, start, end));
    } else name = '';
    return { fault, name, line };
  }
}

/**
 * The status line not ended yet, up to its version (`at` 7) or its status code (`at` 11):
 * refused as the parser's parseStatusLine refuses it whole, in its words; undefined: not refused.
 */
function statusLineRefusal(
  acc: Buffer,
  start: number,
  at: number,
  upgradeAsked: boolean,
): string | undefined {
  if (at === 7) {
    if (acc[start + 5] === 0x31 /* 1 */) return undefined;
    return `unsupported HTTP version ${snippet(latin1(acc, start, start + 8))}`;
  }
  const code = latin1(acc, start + 9, start + 12);
  const status = Number(code);
  if (status < 100 || status > 599) return `status code ${code} out of range`;
  if (status === 101 && !upgradeAsked) return 'unexpected 101 Switching Protocols (no upgrade was requested)';
  return undefined;
}
