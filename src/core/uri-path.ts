/**
 * A request path in its normal form, so that a path means one thing to the router and to
 * whatever resolves it after the gateway. An upstream that removes dot-segments or decodes
 * `%2e` would read `/x/../admin` or `/x/%2e%2e/admin` as `/admin`, while a router that
 * compared the bytes as sent would have picked the catch-all route, and its policy. So the
 * path is made what such an upstream would make of it before it is matched, and that is the
 * path forwarded; what no normal form can settle is refused instead.
 *
 * The normal form (RFC 3986 §6.2.2): every percent-encoded unreserved character decoded
 * (§2.3: `%41` is `A`, `%2e` is `.`), the other escapes kept with upper-case hex (`%2f` is
 * `%2F`), then dot-segments removed (§5.2.4, `%2e` counting as the dot it is). Refused: a
 * byte outside visible ASCII, a backslash (some servers read it as `/`), a `%` not followed
 * by two hex digits, `%00`, and an overlong UTF-8 sequence (`%C0%AE`: a dot to a decoder that
 * does not check, CVE-2008-2938's way past a router), and a dot-segment with `;` parameters
 * (`/public/..;/admin`: a servlet container drops the parameters and reads it as `..`) (also
 * with normalisation off). An encoded slash (`%2F`, or `%5C` for a backslash) is not a
 * segment separator here and stays encoded; the caller says whether it may go on, since an
 * upstream that decodes it would see another path.
 */

export interface PathOptions {
  /** Decode unreserved escapes and remove dot-segments (off: the path is only checked). */
  readonly normalize: boolean;
  /** Merge runs of `/` into one (`/a//b` → `/a/b`), as nginx's and Envoy's merge_slashes. */
  readonly mergeSlashes: boolean;
}

export interface NormalPath {
  readonly path: string;
  /** The path holds `%2F` or `%5C`: an upstream that decodes it sees more segments than the router did. */
  readonly encodedSlash: boolean;
  /** The path holds `;`: segment parameters to a servlet container, which reads it without them (withoutParameters). */
  readonly parameters: boolean;
}

/** What made a path impossible to settle, in words for an error's details. */
export interface PathProblem {
  readonly problem: string;
}

const HEX = '0123456789ABCDEF';

/** RFC 3986 §2.3: ALPHA / DIGIT / "-" / "." / "_" / "~". */
function isUnreserved(code: number): boolean {
  return (
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x61 && code <= 0x7a) ||
    (code >= 0x30 && code <= 0x39) ||
    code === 0x2d ||
    code === 0x2e ||
    code === 0x5f ||
    code === 0x7e
  );
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const upper = code & ~0x20;
  return upper >= 0x41 && upper <= 0x46 ? upper - 0x41 + 10 : -1;
}

/**
 * The normal form of an origin-form path (no query: the caller splits it off and keeps it as
 * sent), or what makes it impossible to settle. Linear in the path's length.
 *
 * @example normalizePath('/x/%2E%2e/admin', { normalize: true, mergeSlashes: false }) // { path: '/admin', encodedSlash: false, parameters: false }
 */
export function normalizePath(path: string, options: PathOptions): NormalPath | PathProblem {
  if (path.charCodeAt(0) !== 0x2f /* / */) return { problem: 'the path does not start with "/"' };
  // Most paths hold no ";": one look at them.
  const parameters = path.includes(';');
  if (parameters && hasDotSegmentWithParameters(path))
    return {
      problem:
        'the path holds a dot-segment with parameters (such as "..;"), which servlet containers read as the dot-segment',
    };
  let out = '';
  let encodedSlash = false;
  let plain = 0;
  for (let i = 0; i < path.length; i++) {
    const code = path.charCodeAt(i);
    if (code < 0x21 || code > 0x7e) return { problem: 'the path holds a byte that is not visible ASCII' };
    if (code === 0x5c /* \ */) return { problem: 'the path holds a backslash' };
    if (code === 0x23 /* # */) return { problem: 'the path holds a fragment ("#")' };
    if (code !== 0x25 /* % */) continue;
    const high = hexValue(path.charCodeAt(i + 1));
    const low = hexValue(path.charCodeAt(i + 2));
    if (high < 0 || low < 0)
      return { problem: 'the path holds a "%" that is not followed by two hex digits' };
    const value = high * 16 + low;
    if (value === 0) return { problem: 'the path holds an encoded NUL (%00)' };
    if (value >= 0xc0 && overlong(path, i + 3, value))
      return { problem: 'the path holds an overlong UTF-8 sequence (such as %C0%AE for ".")' };
    if (value === 0x2f || value === 0x5c) encodedSlash = true;
    i += 2;
    if (!options.normalize) continue;
    out += path.slice(plain, i - 2);
    out += isUnreserved(value) ? String.fromCharCode(value) : `%${HEX[high]}${HEX[low]}`;
    plain = i + 1;
  }
  // Off, the path goes on byte for byte as sent (a signature over it stays valid): only checked.
  if (!options.normalize)
    return { path: options.mergeSlashes ? path.replace(/\/{2,}/g, '/') : path, encodedSlash, parameters };
  out += path.slice(plain);
  return { path: removeDotSegments(out, options.mergeSlashes), encodedSlash, parameters };
}

/**
 * Whether the escape at `at` continues the lead byte `lead` into an overlong form (RFC 3629
 * §3: C0 and C1 lead only overlong pairs; E0 then 80–9F, F0 then 80–8F are overlong too; and
 * the five- and six-byte forms of RFC 2279, F8 then 80–87, FC then 80–83, which the old
 * decoders that take overlong forms take too: IIS's `%f8%80%80%80%af` for "/"): no valid UTF-8
 * has one, and a decoder that takes it reads a character the router never saw. A lead alone,
 * or before another byte, is a Latin-1 letter (`/m%FCnchen`), and goes on.
 */
function overlong(path: string, at: number, lead: number): boolean {
  const max = overlongBelow(lead);
  if (max === 0 || path.charCodeAt(at) !== 0x25 /* % */) return false;
  const high = hexValue(path.charCodeAt(at + 1));
  const low = hexValue(path.charCodeAt(at + 2));
  if (high < 0 || low < 0) return false;
  const next = high * 16 + low;
  return next >= 0x80 && next <= max;
}

/** The highest second byte that makes a sequence led by `lead` overlong (0: none does). */
function overlongBelow(lead: number): number {
  switch (lead) {
    case 0xc0:
    case 0xc1:
      return 0xbf;
    case 0xe0:
      return 0x9f;
    case 0xf0:
      return 0x8f;
    case 0xf8:
      return 0x87;
    case 0xfc:
      return 0x83;
    default:
      return 0;
  }
}

/**
 * RFC 3986 §5.2.4 on a path that starts with "/", segment by segment: "." is dropped, ".."
 * drops the segment before it (never above the root), and a path that ends in either ends
 * in "/" (`/a/b/..` → `/a/`). With `mergeSlashes`, empty segments go too, the last aside
 * (`/a//b/` → `/a/b/`).
 */
function removeDotSegments(path: string, mergeSlashes: boolean): string {
  if (!path.includes('/.') && !(mergeSlashes && path.includes('//'))) return path;
  const segments = path.split('/');
  const kept: string[] = [];
  const last = segments.length - 1;
  for (let i = 1; i <= last; i++) {
    const segment = segments[i];
    if (segment === '.' || segment === '..') {
      if (segment === '..') kept.pop();
      if (i === last) kept.push('');
    } else if (segment !== '' || !mergeSlashes || i === last) kept.push(segment);
  }
  return `/${kept.join('/')}`;
}

/**
 * A request target's path, its query (from the first `?`) cut off: what a probe, a route's
 * message, a plugin read as the path.
 *
 * @example withoutQuery('/ready?x=1') // '/ready'
 */
export function withoutQuery(target: string): string {
  const q = target.indexOf('?');
  return q === -1 ? target : target.slice(0, q);
}

/**
 * The path as a servlet container (Tomcat, Jetty, Spring) reads it: each segment without its
 * `;` parameters (`/admin;x=1/list` is `/admin/list` to it, `/admin;jsessionid=1` is
 * `/admin`), then the runs of `/` merged, as Tomcat's normalisation and Spring's path helper
 * merge them: a segment of parameters alone leaves an empty one, and `/;x/admin` is their
 * `/admin`, not the `//admin` no route's prefix takes. The query, if any, as it is. An
 * encoded `%3B` is data to it, and stays.
 *
 * @example withoutParameters('/admin;x=1/list?a=;b') // '/admin/list?a=;b'
 * @example withoutParameters('/;jsessionid=1/admin') // '/admin'
 */
export function withoutParameters(path: string): string {
  const q = path.indexOf('?');
  const pathPart = q === -1 ? path : path.slice(0, q);
  return pathPart.replace(/;[^/]*/g, '').replace(/\/{2,}/g, '/') + (q === -1 ? '' : path.slice(q));
}

/** A segment's trailing dots and escaped spaces, after a character of its name (not a segment of dots alone). */
const TRAILING_DOTS_AND_SPACES = /(?<!\/|\.|%20)(?:\.|%20)+(?=\/|$)/gi;

/**
 * The path as Windows reads it (IIS, or any server that hands the path to NTFS): each segment
 * ends before its trailing dots and spaces, so `/admin.` and `/admin%20` are its `/admin`. A
 * segment of dots alone (`...`) is left as it is. The query, if any, as it is. Undefined when no
 * segment ends so (the reading is the path itself): only looked for in a path with a `.` or `%`.
 *
 * @example windowsReading('/admin.%20./x?q=a.') // '/admin/x?q=a.'
 */
export function windowsReading(path: string): string | undefined {
  const q = path.indexOf('?');
  const pathPart = q === -1 ? path : path.slice(0, q);
  if (!pathPart.includes('.') && !pathPart.includes('%')) return undefined;
  const read = pathPart.replace(TRAILING_DOTS_AND_SPACES, '');
  return read === pathPart ? undefined : read + (q === -1 ? '' : path.slice(q));
}

/** A segment's leading and trailing escaped control bytes and spaces (`%01`–`%20`; `%00` is refused before). */
const EDGE_CONTROLS = /(?<=\/)(?:%(?:[01][0-9a-f]|20))+|(?:%(?:[01][0-9a-f]|20))+(?=\/|$)/gi;

/**
 * The path as a server that trims each segment reads it: Java's `String.trim()` drops the
 * control bytes and spaces at either end (Spring's AntPathMatcher trims each token:
 * CVE-2016-5007), so `/admin%09` and `/%0Aadmin` are its `/admin`. The query, if any, as it is.
 * Undefined when no segment is so trimmed: only looked for in a path with a `%`.
 *
 * @example trimmedReading('/admin%09/x%20?q=%20') // '/admin/x?q=%20'
 */
export function trimmedReading(path: string): string | undefined {
  const q = path.indexOf('?');
  const pathPart = q === -1 ? path : path.slice(0, q);
  if (!pathPart.includes('%')) return undefined;
  const read = pathPart.replace(EDGE_CONTROLS, '');
  return read === pathPart ? undefined : read + (q === -1 ? '' : path.slice(q));
}

/**
 * An escape of a character a segment may also hold as it is (RFC 3986 §3.3's pchar: `:`, `@`
 * and the sub-delims), but `;`: `%40`, `%3A`, `%2B`… in either case.
 */
const ESCAPED_PCHARS = /%(?:2[146-9A-C]|3[AD]|40)/gi;

/**
 * The path as a server that decodes it before it routes reads it (nginx's locations, Express,
 * Rails, Django): each escape of a character a segment may hold as it is decoded (`/%40admin`
 * is its `/@admin`). RFC 3986 §2.2 keeps the two apart (a reserved character and its escape
 * may mean different things: `%3A` can be data where `:` ends a name), so the normal form
 * does too, and the router asks both readings. `;` stays escaped (a servlet container's
 * parameters are withoutParameters' reading, `%3B` data to it), and so do `%2F`, `%3F`, `%23`
 * and `%25`, which would make another segment, a query, a fragment or another escape of it.
 * The query, if any, as it is.
 *
 * @example withEscapesDecoded('/%40admin/c%2b%2B?q=%40') // '/@admin/c++?q=%40'
 */
export function withEscapesDecoded(path: string): string {
  const q = path.indexOf('?');
  const pathPart = q === -1 ? path : path.slice(0, q);
  const decoded = pathPart.replace(ESCAPED_PCHARS, (escaped) =>
    String.fromCharCode(Number.parseInt(escaped.slice(1), 16)),
  );
  return decoded + (q === -1 ? '' : path.slice(q));
}

/**
 * Whether a segment is "." or ".." followed by `;` parameters (the dots as sent or encoded):
 * Tomcat, Jetty and Spring drop a segment's parameters before they resolve it, so `..;x` leaves
 * where it points for them, past a router that saw a name (RFC 3986 has no such rule).
 */
function hasDotSegmentWithParameters(path: string): boolean {
  for (const segment of path.split('/')) {
    const semicolon = segment.indexOf(';');
    if (semicolon > 0 && isDotSegment(segment.slice(0, semicolon))) return true;
  }
  return false;
}

/** Whether a path has a "." or ".." segment (as sent or percent-encoded): one that would leave where it points. */
export function hasDotSegment(path: string): boolean {
  for (const segment of path.split('/')) if (isDotSegment(segment)) return true;
  return false;
}

/**
 * Whether a path has a dot-segment as anyone reads it: `..` and `%2e%2e` (hasDotSegment), or
 * with `;` parameters (`..;x`), which a servlet container drops before it resolves the `..`.
 * A rewrite can join what it captured into either (`/v-..;x` → `/static/..;x`).
 */
export function hasAnyDotSegment(path: string): boolean {
  return hasDotSegment(path) || (path.includes(';') && hasDotSegmentWithParameters(path));
}

/** "." or "..", each dot as sent or as `%2e` (six characters at most: longer is a name). */
function isDotSegment(segment: string): boolean {
  if (segment.length === 0 || segment.length > 6) return false;
  const decoded = segment.replace(/%2e/gi, '.');
  return decoded === '.' || decoded === '..';
}
