/**
 * The first fault of a request head the strict parser (request-parser.ts) refuses, under
 * llhttp's names for it: a request line known to be invalid (whole or not yet), a field line's fault, a bare CR
 * or LF. The parser finds that something is wrong on its fast path; these slow paths say what.
 */
import type { ChunkedDecoder } from './chunked-decoder.ts';
import { type FieldError, MAX_FIELDS } from './field-lines.ts';
import { LONGEST_METHOD, malformed, methodBreak, type RuleBreak, TARGET } from './request-rules.ts';
import { CR, LF, latin1, snippet, TOKEN } from './syntax.ts';

/** A PROXY protocol v1 header's opening (HAProxy's proxy-protocol.txt §2.1). */
const PROXY_V1 = /^PROXY (?:TCP4|TCP6|UNKNOWN)(?: |$)/;

/** Names a bare LF or CR (a line that holds one failed the line checks because of it). */
export function lineEndBreak(c: string): RuleBreak {
  return malformed(
    c === '\n' ? 'HPE_LF_EXPECTED' : 'HPE_CR_EXPECTED',
    c === '\n' ? 'bare LF line ending' : 'bare CR',
  );
}

/** A method's first bytes that are a token (all of it, when it is one). */
const TOKEN_START = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]*/;

/**
 * A line whose method is already longer than any the gateway knows while its bytes are still a
 * token: a 501, whatever follows (a head read as it comes is refused so at that byte, before
 * the rest is there: the same bytes get the same answer however they are split). Undefined
 * while the method may still be one the gateway knows, or stopped being a token before.
 */
export function overlongMethodBreak(line: string): RuleBreak | undefined {
  const token = (TOKEN_START.exec(line) as RegExpExecArray)[0];
  return token.length > LONGEST_METHOD ? methodBreak(token) : undefined;
}

/** The slow path for a request line known to be invalid: names its first fault. */
export function requestLineBreak(line: string, proxyProtocol: boolean, uriLength: number): RuleBreak {
  // Its faults in the order its bytes come, as a line read as it comes is refused (at the byte
  // each is known): a method past any known, then a target past the limit before any bare CR or LF.
  const overlong = overlongMethodBreak(line);
  if (overlong !== undefined) return overlong;
  if (targetPastLimit(line, uriLength)) return targetTooLong(uriLength);
  if (line.includes('\n')) return lineEndBreak('\n');
  if (line.includes('\r')) return lineEndBreak('\r');
  // A TCP load balancer's PROXY protocol header where a request line belongs, the usual slip
  // of a balancer set to send one to a listener not set to take it: said, with the setting.
  // v1 is a line of text; v2's signature opens with two empty lines (skipped) and then a NUL.
  const proxyHeader = PROXY_V1.test(line) ? 'v1' : line === '\0' ? 'v2' : undefined;
  if (proxyHeader !== undefined)
    return malformed(
      'HPE_INVALID_METHOD',
      proxyProtocol
        ? `a second PROXY protocol header (${proxyHeader}): this listener reads one only at the connection's start, its balancer's (one sent behind it is a client's claim)`
        : `a PROXY protocol header (${proxyHeader}), which this listener does not take: set listen[].proxy_protocol with the balancer's address in its from`,
    );
  const space = line.indexOf(' ');
  const method = space === -1 ? line : line.slice(0, space);
  if (!TOKEN.test(method)) return invalidMethod(method);
  const rest = line.slice(space + 1);
  // Whitespace where RFC 9112 §3 puts one SP is named as such: the parts around it are sound,
  // and "invalid request target" sent a client looking for a fault in its path.
  if (rest.charCodeAt(0) === 0x20)
    return malformed('HPE_INVALID_URL', 'more than one space between the method and the target');
  const targetEnd = rest.indexOf(' ');
  if (space === -1 || targetEnd === -1) {
    // `GET /` and nothing more: an HTTP/0.9 request (RFC 9112 §2.3 has no such thing any more).
    if (space !== -1 && TARGET.test(rest))
      return { status: 400, code: 'HPE_INVALID_VERSION', details: 'HTTP/0.9 requests are not accepted' };
    return rest.includes('\t') && TARGET.test(rest.slice(0, rest.indexOf('\t')))
      ? malformed('HPE_INVALID_URL', TAB_IN_LINE)
      : malformed('HPE_INVALID_URL', 'invalid request target');
  }
  const target = rest.slice(0, targetEnd);
  if (!TARGET.test(target)) return malformed('HPE_INVALID_URL', 'invalid request target');
  const version = rest.slice(targetEnd + 1);
  if (version.charCodeAt(0) === 0x20)
    return malformed('HPE_INVALID_VERSION', 'more than one space between the target and the version');
  if (VERSION_THEN_WHITESPACE.test(version))
    return malformed('HPE_INVALID_VERSION', 'whitespace after the HTTP version');
  // A space inside the target leaves a version that is no version: the target is at fault.
  if (version.includes(' ')) return malformed('HPE_INVALID_URL', 'invalid request target');
  return malformed('HPE_INVALID_VERSION', 'invalid HTTP version');
}

/** What a tab between the request line's parts is told (nginx and HAProxy take it as a space; a hop behind them may not). */
const TAB_IN_LINE = 'a tab in the request line (its parts are separated by one space)';

/** A version followed by spaces or tabs before the line's end. */
const VERSION_THEN_WHITESPACE = /^HTTP\/[0-9]\.[0-9][ \t]+$/;

/** A method that is not a token: a tab where its space belongs is named, any other byte is an invalid method. */
function invalidMethod(method: string): RuleBreak {
  const token = (TOKEN_START.exec(method) as RegExpExecArray)[0];
  return malformed(
    'HPE_INVALID_METHOD',
    method.charCodeAt(token.length) === 0x09 ? TAB_IN_LINE : 'invalid method',
  );
}

/**
 * A request line whose target, not ended yet, is already past `limits.uri_length`: named with
 * the limit, as a target read whole is (request-checks.ts), so that a client and an operator
 * see which bound to mind whether the line came in one read or in many.
 */
export function targetTooLong(uriLength: number): RuleBreak {
  return {
    status: 414,
    code: 'HPE_HEADER_OVERFLOW',
    details: `request target over the limit of ${uriLength} bytes (limits.uri_length)`,
  };
}

/**
 * The line's target (after a method that is a token) passes `uriLength` before any bare CR or
 * LF: a line read as it comes is refused with its 414 at that byte, whatever follows.
 */
function targetPastLimit(line: string, uriLength: number): boolean {
  const space = line.indexOf(' ');
  if (space <= 0 || !TOKEN.test(line.slice(0, space))) return false;
  const targetEnd = line.indexOf(' ', space + 1);
  if ((targetEnd === -1 ? line.length : targetEnd) - space - 1 <= uriLength) return false;
  const past = space + uriLength + 1;
  const cr = line.indexOf('\r');
  const lf = line.indexOf('\n');
  return (cr === -1 || cr > past) && (lf === -1 || lf > past);
}

/** What a version not whole yet may still become: a prefix of `HTTP/d.d`. */
const VERSION_SO_FAR = /^(?:H(?:T(?:T(?:P(?:\/(?:[0-9](?:\.[0-9]?)?)?)?)?)?)?)?$/;

/**
 * The fault of a request line that has not ended but can no longer become a valid one: a
 * method longer than any the gateway knows (501), a target already past `uriLength` (414),
 * what follows the target already no version (the whole line's 400); undefined while it
 * still may. Without it such a line was held until the header timeout, a 408 for a client
 * that was not slow (or, past the head limit, a 414 whatever its fault).
 */
export function partialLineBreak(
  line: string,
  uriLength: number,
  proxyProtocol: boolean,
): RuleBreak | undefined {
  const space = line.indexOf(' ');
  // (A method past any known was refused before: PartialHeadCheck, overlongMethodBreak.)
  if (space === -1) return undefined;
  const targetEnd = line.indexOf(' ', space + 1);
  const target = (targetEnd === -1 ? line.length : targetEnd) - space - 1;
  if (target > uriLength) return targetTooLong(uriLength);
  if (targetEnd === -1 || VERSION_SO_FAR.test(line.slice(targetEnd + 1))) return undefined;
  return requestLineBreak(line, proxyProtocol, uriLength);
}

/** A field line's fault, under llhttp's names for it. */
export function fieldLineBreak({ fault, name }: FieldError): RuleBreak {
  switch (fault) {
    case 'bare-lf':
      return lineEndBreak('\n');
    case 'bare-cr':
      return lineEndBreak('\r');
    case 'too-many':
      return { status: 431, code: 'HPE_HEADER_OVERFLOW', details: `more than ${MAX_FIELDS} header fields` };
    case 'invalid-value':
      // A name as long as the head allows is named by its start (snippet), as a method is.
      return malformed(
        'HPE_INVALID_HEADER_TOKEN',
        `invalid character in the value of header ${snippet(name)}`,
      );
  }
  // RFC 9112 §5.2: obs-fold is refused in a request (a 400), as is whitespace before the first field.
  const what =
    fault === 'leading-whitespace'
      ? 'whitespace before the first header field'
      : fault === 'obs-fold'
        ? 'obs-fold (a folded header line)'
        : fault === 'invalid'
          ? 'invalid header section'
          : 'invalid header field name';
  return malformed('HPE_INVALID_HEADER_TOKEN', what);
}

/**
 * A bare LF or CR in buf[from, end): every CR must begin a CRLF and every LF end one (RFC 9112
 * §2.2: a bare CR must be refused, and a bare LF would make a head other parsers read
 * differently). Undefined when there is none.
 */
export function lineEndsBreak(buf: Buffer, from: number, end: number): RuleBreak | undefined {
  for (let i = buf.indexOf(LF, from); i !== -1 && i < end; i = buf.indexOf(LF, i + 1)) {
    if (i === 0 || buf[i - 1] !== CR) return lineEndBreak('\n');
  }
  for (let i = buf.indexOf(CR, from); i !== -1 && i < end; i = buf.indexOf(CR, i + 1)) {
    // A CR last in what came so far may still be followed by its LF.
    if (i + 1 < end && buf[i + 1] !== LF) return lineEndBreak('\r');
  }
  return undefined;
}

/**
 * A request line that has not ended yet (`acc`, the head so far, holds no LF) already known to
 * be refused; undefined while it still may hold.
 */
export function unendedLineBreak(
  acc: Buffer,
  uriLength: number,
  proxyProtocol: boolean,
): RuleBreak | undefined {
  // The method so far must be a token (the usual garbage, TLS to a plain port, fails at once).
  const space = acc.indexOf(0x20);
  const method = latin1(acc, 0, space === -1 ? acc.length : space);
  // (A space first is an empty method: no byte after it can mend that.)
  if (space === 0) return malformed('HPE_INVALID_METHOD', 'invalid method');
  if (method !== '' && !TOKEN.test(method)) return invalidMethod(method);
  // A target past its limit, or a version gone wrong, is known before the line ends.
  const end = acc[acc.length - 1] === CR ? acc.length - 1 : acc.length;
  return partialLineBreak(latin1(acc, 0, end), uriLength, proxyProtocol);
}

/** A head past the head limit (acc, its first `len` bytes): its target too long (414), or its fields (431). */
export function headTooLargeBreak(
  acc: Buffer,
  len: number,
  { uriLength, headerSize }: { readonly uriLength: number; readonly headerSize: number },
): RuleBreak {
  const lineEnd = acc.subarray(0, len).indexOf(LF);
  // A request line that never ended, or a target longer than the target limit: the target is
  // the fault. (The target, between the line's first and last spaces: not the whole line,
  // whose method and version would make a target at the limit a 414 for its fields' fault.)
  const first = acc.indexOf(0x20);
  const last = lineEnd === -1 ? -1 : acc.lastIndexOf(0x20, lineEnd);
  const target = first !== -1 && first < last ? last - first - 1 : lineEnd;
  // A line that never ended: its target is what follows the method, as far as it came.
  const targetSoFar = lineEnd === -1 ? len - first - 1 : target;
  if (targetSoFar > uriLength) return targetTooLong(uriLength);
  // (A uri_length raised past header_size: the line outgrew the head before its target did.)
  if (lineEnd === -1)
    return {
      status: 414,
      code: 'HPE_HEADER_OVERFLOW',
      details: 'request line longer than limits.header_size',
    };
  // Named with its limit, as the 414's: the bound a client must keep under and an operator may raise.
  return {
    status: 431,
    code: 'HPE_HEADER_OVERFLOW',
    details: `request header section too large: over the limit of ${headerSize} bytes (limits.header_size)`,
  };
}

/** A chunked body's fault (after the decoder's step returned -1), under llhttp's names for it. */
export function chunkedBreak(chunked: ChunkedDecoder, bodyLimit: number): RuleBreak {
  if (chunked.fault === 'too-large')
    return {
      status: 413,
      code: 'ERR_BODY_TOO_LARGE',
      details: `request body larger than the route's limit of ${bodyLimit} bytes (${chunked.faultDetails})`,
    };
  const code = chunked.fault === 'line-too-long' ? 'HPE_CHUNK_EXTENSIONS_OVERFLOW' : 'HPE_INVALID_CHUNK_SIZE';
  return { status: 400, code, details: `invalid chunked framing (${chunked.faultDetails})` };
}
