/**
 * A strict reader of RFC 8941 Structured Field Values, written from the RFC's parsing algorithms
 * (§4.2) and kept apart from the gateway's own code (src/core/failure/structured-field.ts), so a
 * test reads what the gateway wrote as a strict client would: a value it refuses throws, saying
 * where. RFC 9651's Date and Display String are refused too: a reader of RFC 8941 has neither.
 */

/** A bare item as read: integer or decimal, string, token, byte sequence (base64 text) or boolean. */
export type SfBareItem =
  | { readonly type: 'integer' | 'decimal'; readonly value: number }
  | { readonly type: 'string' | 'token' | 'binary'; readonly value: string }
  | { readonly type: 'boolean'; readonly value: boolean };

/** An item's parameters, in order; a key said twice is an error here (RFC 8941 keeps the last; no writer should say one twice). */
export type SfParams = ReadonlyArray<readonly [string, SfBareItem]>;

export interface SfItem {
  readonly item: SfBareItem;
  readonly params: SfParams;
}

export interface SfInnerList {
  readonly inner: readonly SfItem[];
  readonly params: SfParams;
}

export type SfMember = SfItem | SfInnerList;

class Reader {
  readonly text: string;
  at = 0;
  constructor(text: string) {
    this.text = text;
  }
  fail(why: string): never {
    throw new SyntaxError(`${why} at character ${this.at} of ${JSON.stringify(this.text.slice(0, 200))}`);
  }
  c(): string {
    return this.text[this.at] ?? '';
  }
  spaces(): void {
    while (this.c() === ' ') this.at++;
  }
  ows(): void {
    while (this.c() === ' ' || this.c() === '\t') this.at++;
  }
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

function bareItem(r: Reader): SfBareItem {
  const c = r.c();
  if (c === '-' || (c >= '0' && c <= '9')) return number(r);
  if (c === '"') return string(r);
  if (c === '*' || /[A-Za-z]/.test(c)) return token(r);
  if (c === ':') return binary(r);
  if (c === '?') {
    r.at++;
    const v = r.c();
    if (v !== '0' && v !== '1') r.fail('a boolean is ?0 or ?1');
    r.at++;
    return { type: 'boolean', value: v === '1' };
  }
  return r.fail(`no bare item begins with ${JSON.stringify(c)}`);
}

function number(r: Reader): SfBareItem {
  let sign = 1;
  if (r.c() === '-') {
    sign = -1;
    r.at++;
  }
  if (!(r.c() >= '0' && r.c() <= '9')) r.fail('a number needs a digit');
  let digits = '';
  let decimal = false;
  for (;;) {
    const c = r.c();
    if (c >= '0' && c <= '9') digits += c;
    else if (c === '.' && !decimal) {
      if (digits.length > 12) r.fail('a decimal has at most 12 integer digits');
      digits += c;
      decimal = true;
    } else break;
    r.at++;
    if (!decimal && digits.length > 15) r.fail('an integer has at most 15 digits');
    if (decimal && digits.length > 16) r.fail('a decimal has at most 16 characters');
  }
  if (!decimal) return { type: 'integer', value: sign * Number(digits) };
  if (digits.endsWith('.')) r.fail('a decimal ends in a digit');
  if (digits.length - digits.indexOf('.') - 1 > 3) r.fail('a decimal has at most 3 fraction digits');
  return { type: 'decimal', value: sign * Number(digits) };
}

function string(r: Reader): SfBareItem {
  r.at++;
  let out = '';
  for (;;) {
    if (r.at >= r.text.length) r.fail('a string is never closed');
    const c = r.c();
    r.at++;
    if (c === '\\') {
      const next = r.c();
      if (next !== '"' && next !== '\\') r.fail('a string escapes only " and \\');
      out += next;
      r.at++;
    } else if (c === '"') return { type: 'string', value: out };
    else if (c < ' ' || c > '~') {
      r.at--;
      r.fail(`a string holds printable ASCII only, not ${JSON.stringify(c)}`);
    } else out += c;
  }
}

function token(r: Reader): SfBareItem {
  const start = r.at;
  r.at++;
  while (TCHAR.test(r.c()) || r.c() === ':' || r.c() === '/') r.at++;
  return { type: 'token', value: r.text.slice(start, r.at) };
}

function binary(r: Reader): SfBareItem {
  r.at++;
  const start = r.at;
  while (/[A-Za-z0-9+/=]/.test(r.c())) r.at++;
  if (r.c() !== ':') r.fail('a byte sequence ends in ":"');
  const value = r.text.slice(start, r.at);
  r.at++;
  return { type: 'binary', value };
}

function key(r: Reader): string {
  if (!/[a-z*]/.test(r.c())) r.fail('a key begins with a lowercase letter or "*"');
  const start = r.at;
  while (/[a-z0-9_\-.*]/.test(r.c())) r.at++;
  return r.text.slice(start, r.at);
}

function params(r: Reader): SfParams {
  const out: [string, SfBareItem][] = [];
  while (r.c() === ';') {
    r.at++;
    r.spaces();
    const name = key(r);
    let value: SfBareItem = { type: 'boolean', value: true };
    if (r.c() === '=') {
      r.at++;
      value = bareItem(r);
    }
    if (out.some(([k]) => k === name)) r.fail(`the parameter ${name} is said twice`);
    out.push([name, value]);
  }
  return out;
}

function member(r: Reader): SfMember {
  if (r.c() !== '(') return { item: bareItem(r), params: params(r) };
  r.at++;
  const inner: SfItem[] = [];
  for (;;) {
    r.spaces();
    if (r.c() === ')') {
      r.at++;
      return { inner, params: params(r) };
    }
    inner.push({ item: bareItem(r), params: params(r) });
    if (r.c() !== ' ' && r.c() !== ')') r.fail('inner list items are parted by spaces');
  }
}

/** The field's value (its lines joined with ", ") read as a List, strictly: throws where it is not one. */
export function parseSfList(value: string): SfMember[] {
  const r = new Reader(value);
  r.spaces();
  const out: SfMember[] = [];
  if (r.at >= value.length) r.fail('an empty List is no field');
  for (;;) {
    out.push(member(r));
    r.ows();
    if (r.at >= value.length) {
      // The trailing spaces a field value cannot have (HTTP strips them) are the only ones allowed.
      return out;
    }
    if (r.c() !== ',') r.fail('List members are parted by ","');
    r.at++;
    r.ows();
    if (r.at >= value.length) r.fail('a List ends in a member, not ","');
  }
}

/** One member's item and parameters as plain values (a test's assertion), its name and a map. */
export function memberOf(m: SfMember): { name: string; nameType: string; params: Map<string, SfBareItem> } {
  if (!('item' in m)) throw new TypeError('an inner list, not an item');
  return { name: String(m.item.value), nameType: m.item.type, params: new Map(m.params) };
}

/**
 * A field value as Node's clients give it (string, or array of lines) parsed strictly as a List:
 * its lines joined as RFC 9110 §5.3 joins them.
 */
export function strictList(value: string | readonly string[] | undefined): SfMember[] {
  if (value === undefined) throw new SyntaxError('no such field');
  return parseSfList(typeof value === 'string' ? value : value.join(', '));
}
