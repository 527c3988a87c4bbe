/**
 * What a request head's framing fields say (Content-Length, Transfer-Encoding, Connection,
 * Upgrade), read in one pass over its fields, and whether a Transfer-Encoding frames the body
 * as the strict request parser (request-parser.ts) requires. One for all the parsers, read again
 * at each head: its fields rather than a result object, so that a head allocates nothing extra.
 */
import type { RuleBreak } from './request-rules.ts';
import { listMembers, nameIs, snippet } from './syntax.ts';

export class RequestFramingFields {
  /** The Content-Length, -1 for none. */
  contentLength = -1;
  /** Content-Length fields seen. */
  lengths = 0;
  /** Transfer-Encoding values, all fields' members in order. */
  te: string | undefined = undefined;
  close = false;
  keepAliveToken = false;
  /**
   * `upgrade` among the Connection options, and an Upgrade field naming a protocol: both make an
   * upgrade request. An empty Upgrade (or one of empty members) offers nothing to switch to: the
   * request is a plain one, and its Upgrade goes no further than any hop-by-hop field.
   */
  upgradeToken = false;
  upgradeField = false;

  reset(): void {
    this.contentLength = -1;
    this.lengths = 0;
    this.te = undefined;
    this.close = false;
    this.keepAliveToken = false;
    this.upgradeToken = false;
    this.upgradeField = false;
  }

  /**
   * Reads the framing fields of a head (flat name, value pairs), forgetting the last head's;
   * the refusal once the request's Content-Length is refused, undefined when it holds.
   */
  read(headers: readonly string[]): RuleBreak | undefined {
    this.reset();
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i];
      switch (name.length) {
        case 7:
          if (nameIs(name, 'upgrade')) this.upgradeField ||= listMembers(headers[i + 1]).length > 0;
          break;
        case 10:
          if (nameIs(name, 'connection')) {
            const value = headers[i + 1];
            if (nameIs(value, 'close')) this.close = true;
            else if (nameIs(value, 'keep-alive')) this.keepAliveToken = true;
            else
              for (const token of listMembers(value)) {
                if (token === 'close') this.close = true;
                else if (token === 'keep-alive') this.keepAliveToken = true;
                else if (token === 'upgrade') this.upgradeToken = true;
              }
          }
          break;
        case 14:
          if (nameIs(name, 'content-length')) {
            // RFC 9112 §6.3: a second Content-Length, even an agreeing one, is refused; a
            // request is no place to guess which one the next hop believes.
            if (++this.lengths > 1)
              return {
                status: 400,
                code: 'HPE_UNEXPECTED_CONTENT_LENGTH',
                details: 'more than one Content-Length header',
              };
            const value = headers[i + 1];
            this.contentLength = /^[0-9]{1,15}$/.test(value) ? Number(value) : -1;
            if (this.contentLength === -1)
              return {
                status: 400,
                code: 'HPE_INVALID_CONTENT_LENGTH',
                details: `invalid Content-Length ${snippet(value)}`,
              };
          }
          break;
        case 17:
          if (nameIs(name, 'transfer-encoding'))
            this.te = this.te === undefined ? headers[i + 1] : `${this.te},${headers[i + 1]}`;
          break;
      }
    }
    return undefined;
  }
}

/**
 * Why a Transfer-Encoding does not frame a request's body: its codings must end in chunked,
 * applied once, alone as the framing. Undefined when it does.
 */
export function chunkedFramingBreak(te: string, lengths: number, minor: 0 | 1): RuleBreak | undefined {
  // RFC 9112 §6.1: the pair is a smuggling attempt or a broken client; either way, no guess.
  if (lengths > 0)
    return {
      status: 400,
      code: 'HPE_UNEXPECTED_CONTENT_LENGTH',
      details: 'both Content-Length and Transfer-Encoding: the framing is ambiguous',
    };
  if (minor === 0)
    return {
      status: 400,
      code: 'HPE_INVALID_TRANSFER_ENCODING',
      details: 'Transfer-Encoding in an HTTP/1.0 request',
    };
  const codings = listMembers(te);
  // RFC 9112 §6.3 rule 4: without chunked last the length cannot be known: 400 and close.
  if (codings[codings.length - 1] !== 'chunked')
    return {
      status: 400,
      code: 'HPE_INVALID_TRANSFER_ENCODING',
      details: 'Transfer-Encoding must end in chunked: the body length cannot be known',
    };
  // RFC 9112 §6.1: chunked MUST NOT be applied twice; hops would de-frame it differently.
  if (codings.indexOf('chunked') !== codings.length - 1)
    return {
      status: 400,
      code: 'HPE_INVALID_TRANSFER_ENCODING',
      details: 'chunked applied more than once: the body length cannot be known',
    };
  return undefined;
}
