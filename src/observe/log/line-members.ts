import { strictJson } from '../../core/printable.ts';
import type { LineBatch } from './line-batch.ts';

/**
 * The access line's members, written as JSON straight into a batch's bytes (access-log.ts says
 * which, in which order). Each writes what JSON.stringify writes for the member, so the line
 * needs no second pass: a string JSON must escape is written as JSON.stringify writes it, with
 * what it leaves raw and a terminal showing the line obeys (C1's CSI, 0x9b, is ESC [), or turns
 * around (a bidi override), or a reader splits lines at (U+2028) written as a \u escape
 * (strictJson, which writes half a surrogate pair as U+FFFD): the same JSON value, the line safe
 * to `tail`.
 *
 * What it costs: a string copied a character at a time, checked for what JSON escapes, some
 * 2–3 ns a character, and a call per piece (a member's name, two quotes, its value). What
 * repeats from line to line (the opening of the millisecond, a connection's client and method,
 * a route's upstream and target, a flag's member) is copied from bytes made once instead, in one
 * copy (TypedArray.set: some 20 ns whatever the length): a keep-alive GET's line went from 1.21
 * to 0.90 µs (bench/line-cost.ts).
 */

/** The line being built: the batch it is written into (a line is built in one go, never re-entered). */
let line: LineBatch;

/** Starts writing members into `batch`, at its end. */
export function writeInto(batch: LineBatch): void {
  line = batch;
}

/** The bytes of `text`, Latin-1 (a line's constant pieces are ASCII). */
export function bytes(text: string): Uint8Array {
  return Buffer.from(text, 'latin1');
}

/** A member up to its value, `,"name":`. */
export function memberName(name: string): Uint8Array {
  return bytes(`,"${name}":`);
}

/** A member whose value is a string. */
export function putText(member: Uint8Array, value: string): void {
  line.putBytes(member);
  const at = line.length;
  line.putByte(QUOTE);
  // Plain (nothing JSON escapes: ids, addresses, names, most paths) goes in as it is.
  if (line.put(value)) line.putByte(QUOTE);
  else {
    line.cutTo(at);
    line.add(strictJson(JSON.stringify(value)));
  }
}
const QUOTE = 0x22;

/** A member whose value is a number. */
export function putCount(member: Uint8Array, value: number): void {
  line.putBytes(member);
  // A whole number under 10^15 is its digits (-0 too: `${-0}` is 0); anything else as JSON writes it.
  if (value >= 0 && value < 1e15 && Number.isInteger(value)) line.putDigits(value);
  else line.put(num(value));
}

/** A number as JSON writes it: `${n}`, or null when not finite. */
function num(value: number): string {
  return Number.isFinite(value) ? `${value}` : 'null';
}

/** A member whose value is JSON text already (its raw C1, bidi overrides and U+2028 escaped, as putText's). */
export function putJson(member: Uint8Array, value: string): void {
  line.putBytes(member);
  line.add(strictJson(value));
}

/** A boolean member, whole, for each value: `[false's, true's]`. */
export type FlagMember = readonly [Uint8Array, Uint8Array];

export function flagMember(name: string): FlagMember {
  return [bytes(`,"${name}":false`), bytes(`,"${name}":true`)];
}

/** A boolean member. */
export function putFlag(member: FlagMember, value: boolean): void {
  line.putBytes(member[value ? 1 : 0]);
}

/** Bytes made once (a constant piece, a whole member). */
export function putPiece(piece: Uint8Array): void {
  line.putBytes(piece);
}

/**
 * A member whose value is a duration as the line writes it (logMs: milliseconds to two
 * decimals), from its whole hundredths: the text of `${logMs(ms)}`, which is the shortest that
 * reads back as the same double, and under 10^15 hundredths (15 digits at most) that is the
 * digits themselves, the fraction's trailing zero left out (`.05`, `.1`, `.99`). V8's
 * double-to-text conversion took some 100 ns a duration, two or three a line.
 */
export function putDuration(member: Uint8Array, value: number): void {
  const hundredths = Math.round(value * 100);
  if (!(hundredths >= 0 && hundredths < 1e15)) return putJson(member, num(hundredths / 100));
  const whole = Math.floor(hundredths / 100);
  const fraction = hundredths - whole * 100;
  line.putBytes(member);
  line.putDigits(whole);
  if (fraction === 0) return;
  const tenths = Math.floor(fraction / 10);
  line.putByte(DOT);
  line.putByte(DIGIT_0 + tenths);
  if (fraction !== tenths * 10) line.putByte(DIGIT_0 + fraction - tenths * 10);
}
const DOT = 0x2e;
const DIGIT_0 = 0x30;

/**
 * One or two string members in a row whose values repeat from line to line — a connection's
 * client and method, its host, a route's protocol and name, its upstream and target — kept as the bytes last written
 * for them, with the values they were written for: a line with the same values copies them in
 * one go (two members were 8 pieces, their values a character at a time), a line with others
 * writes them and keeps those. One pair of values is kept, not a table of them: interleaved
 * connections from different clients cost a copy of the pair (some 40 bytes) a line, not a
 * lookup and an entry each. An absent member (undefined) is left out, as JSON.stringify leaves it.
 */
export class RepeatedMembers {
  readonly #first: Uint8Array;
  readonly #second: Uint8Array | undefined;
  #a: string | undefined;
  #b: string | undefined;
  /** The members' bytes for #a and #b; undefined until a line wrote them. */
  #bytes: Uint8Array | undefined;

  constructor(first: string, second?: string) {
    this.#first = memberName(first);
    this.#second = second === undefined ? undefined : memberName(second);
  }

  /** Writes the members for these values (`b` none when there is no second member). */
  put(a: string | undefined, b?: string): void {
    if (this.#bytes !== undefined && a === this.#a && b === this.#b) {
      line.putBytes(this.#bytes);
      return;
    }
    const start = line.length;
    if (a !== undefined) putText(this.#first, a);
    if (b !== undefined && this.#second !== undefined) putText(this.#second, b);
    this.#a = a;
    this.#b = b;
    this.#bytes = line.copyFrom(start);
  }
}
