import type { DownstreamLimits } from '../../core/config/types.ts';
import { Failure } from '../../core/failure/failure.ts';
import { leastMaxForwards } from '../../core/http1/max-forwards.ts';
import { authorityFault } from '../../core/http1/request-rules.ts';
import { listMembers, nameIs, snippet } from '../../core/http1/syntax.ts';
import type { DownstreamHead, FieldMap } from '../../core/net/downstream.ts';

function bad(status: number, details: string): Failure {
  return new Failure('http_request_error', details, { status });
}

/**
 * The accept phase's checks on a parsed request, before routing: anything the server's parser
 * lets through that a careful server must refuse (RFC 9112 §3.2, §6.1, §6.3). Returns the
 * failure to answer with, or undefined when the request may go on.
 */
export function checkRequest(
  req: DownstreamHead,
  fields: FieldMap,
  limits: DownstreamLimits,
): Failure | undefined {
  if (req.versionMajor !== 1) {
    return req.versionMajor === 0
      ? bad(400, 'HTTP/0.9 requests are not accepted')
      : bad(505, `HTTP/${req.versionMajor}.${req.versionMinor} is not supported on this listener`);
  }
  if (req.method === 'CONNECT') return bad(405, 'CONNECT is not supported: this is a reverse proxy');
  const url = req.target;
  if (url.length > limits.uriLength) {
    return bad(
      414,
      `request target of ${url.length} bytes, over the limit of ${limits.uriLength} bytes (limits.uri_length)`,
    );
  }
  if (url === '*') {
    if (req.method !== 'OPTIONS') return bad(400, 'the asterisk request target is only valid with OPTIONS');
  } else if (url.charCodeAt(0) !== 0x2f /* / */ && !/^https?:\/\//i.test(url)) {
    return bad(400, 'request target must be a path or an absolute http(s) URL');
  }
  if (req.method === 'TRACE') return bad(405, 'TRACE is not forwarded (it would echo credentials)');

  let hosts = 0;
  let lengths = 0;
  // The Host field as received: `fields` has an absolute-form target's authority for Host
  // (addressedFields), but RFC 9112 §3.2 holds the field itself to the rule all the same.
  let host: string | undefined;
  const raw = req.headers;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (nameIs(name, 'host')) {
      hosts++;
      host = raw[i + 1];
    } else if (nameIs(name, 'content-length')) lengths++;
  }
  if (hosts > 1) return bad(400, 'more than one Host header');
  if (hosts === 0 && req.versionMinor >= 1) return bad(400, 'HTTP/1.1 request without a Host header');
  const hostFault = host === undefined ? undefined : authorityFault(host);
  if (hostFault !== undefined) return bad(400, `invalid Host header (${hostFault})`);
  if (lengths > 1) return bad(400, 'more than one Content-Length header');

  const te = fields['transfer-encoding'] as string | undefined;
  if (te !== undefined) {
    if (lengths > 0) return bad(400, 'both Content-Length and Transfer-Encoding: the framing is ambiguous');
    if (req.versionMinor === 0) return bad(400, 'Transfer-Encoding in an HTTP/1.0 request');
    // RFC 9110 §5.6.1.2: empty list members are ignored, as the parser ignores them.
    const codings = listMembers(te);
    if (codings[codings.length - 1] !== 'chunked') {
      return bad(400, 'Transfer-Encoding must end in chunked: the body length cannot be known');
    }
    // The client's words go into Proxy-Status, the body and the log: cut short and printable.
    if (codings.length > 1)
      return bad(501, `transfer coding ${snippet(codings.slice(0, -1).join(', '))} is not supported`);
  }
  const expect = fields.expect as string | undefined;
  // An Expect with no member (`Expect:`, `Expect: ,`) asks for nothing: no 417 for it.
  if (expect !== undefined && listMembers(expect).some((member) => member !== '100-continue')) {
    return bad(417, `expectation ${snippet(expect)} cannot be met`);
  }
  return undefined;
}

/**
 * An Expect field value (RFC 9110 §10.1.1: a list, in one field or several) asks for
 * 100-continue, the one expectation there is, and nothing else: each member is it, whatever
 * its case, and the empty members a list may hold are ignored (RFC 9110 §5.6.1.2).
 */
export function expectsOnlyContinue(value: string): boolean {
  const members = listMembers(value);
  return members.length > 0 && members.every((member) => member === '100-continue');
}

/**
 * `Max-Forwards: 0` (RFC 9110 §7.6.2): the request must go no further. The value is 1*DIGIT,
 * so `00` is zero too (it went on, as `0` once decremented); a 0 in any line or list member is
 * the count that holds (leastMaxForwards: it went on when another line came first).
 */
export function maxForwardsSpent(headers: readonly string[]): boolean {
  return leastMaxForwards(headers) === '0';
}
