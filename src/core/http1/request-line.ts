/**
 * A request's first line (RFC 9112 §3), as the strict parser (request-parser.ts) reads it: its
 * shape, its parts, and the refusal of one whose version is not HTTP/1.x.
 */
import type { RequestParserLimits } from './parsed-request.ts';
import { requestLineBreak } from './request-faults.ts';
import { LONGEST_METHOD, methodBreak, type RuleBreak, targetBreak } from './request-rules.ts';

/**
 * method SP request-target SP HTTP-version: one space each (RFC 9112 §3), the target visible
 * ASCII only (RFC 9112 §3.2: URI syntax; raw bytes above 0x7e are not, and llhttp refused them too).
 */
const REQUEST_LINE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+ [\x21-\x7e]+ HTTP\/[0-9]\.[0-9]$/;

/**
 * The parts of the line parseRequestLine last read: its method, its target as sent, its HTTP/1
 * minor version. One record for every line, read by the caller at once (the parser reads one
 * line at a time, never re-entered): a tuple returned was an array and its store a request.
 */
export const lineParts = { method: '', target: '', minor: 1 as 0 | 1 };

/** `method SP target SP HTTP/d.d`: the rule the line broke, or undefined and its parts in `lineParts`. */
export function parseRequestLine(line: string, limits: RequestParserLimits): RuleBreak | undefined {
  // Tested, not matched (no match array a request): the line's shape once known, its parts
  // are where it says, the version in the last nine characters (" HTTP/d.d").
  if (!REQUEST_LINE.test(line))
    return requestLineBreak(line, limits.proxyProtocol === true, limits.uriLength);
  const space = line.indexOf(' ');
  // The commonest method as the constant it is (llhttp hands node:http each method so): no string a request.
  const method = space === 3 && line.startsWith('GET') ? 'GET' : line.slice(0, space);
  const target = line.slice(space + 1, line.length - 9);
  const major = line[line.length - 3];
  const minor = line[line.length - 1];
  // A method past any known is refused at its byte, before its version is there (request-faults.ts).
  if (space > LONGEST_METHOD) return methodBreak(method);
  // RFC 9112 §2.3: a minor version above 1 (HTTP/1.2) is read as HTTP/1.1, the highest of its
  // major this parser implements (nginx and Go do the same); only another major is refused.
  if (major !== '1') return versionBreak(method, target, major, minor, limits.http2);
  // The line's syntax holds (REQUEST_LINE): what is left is a method the gateway does not
  // know, and the authority of an absolute-form target (an origin-form one needs no more).
  const broken =
    methodBreak(method) ?? (target.charCodeAt(0) === 0x2f /* / */ ? undefined : targetBreak(target));
  if (broken !== undefined) return broken;
  lineParts.method = method;
  lineParts.target = target;
  lineParts.minor = minor === '0' ? 0 : 1;
  return undefined;
}

/** A version other than HTTP/1.x (`major`, `minor`: its digits) in a well-formed request line. */
function versionBreak(
  method: string,
  target: string,
  major: string,
  minor: string,
  http2: RequestParserLimits['http2'],
): RuleBreak {
  // The HTTP/2 connection preface: prior knowledge this listener does not have.
  if (method === 'PRI' && target === '*' && major === '2') {
    if (http2 === 'prior-knowledge')
      return { status: 400, code: 'HPE_PAUSED_H2_UPGRADE', details: 'malformed HTTP/2 connection preface' };
    return {
      status: 505,
      code: 'HPE_PAUSED_H2_UPGRADE',
      details:
        http2 === 'alpn'
          ? 'HTTP/2 on this listener is chosen by TLS ALPN (h2): this connection chose HTTP/1.1'
          : 'HTTP/2 is not supported on this listener',
    };
  }
  return {
    status: 505,
    code: 'HPE_INVALID_VERSION',
    details: `HTTP/${major}.${minor} is not supported on this listener`,
  };
}
