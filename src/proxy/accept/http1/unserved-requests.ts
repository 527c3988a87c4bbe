/**
 * The requests a client pipelined that were read whole, kept for their turn, and never got it:
 * the connection closed under the answer before them (the gateway cut it, its drain's deadline
 * cut it, or the client left). Each was a request the gateway accepted, so each gets its log
 * line (DESIGN.md: one line per request), saying why it was not served. Read here, at the close,
 * by a parser of their own: while they waited they were bytes, parsed only in their turn.
 */
import type { RequestHead, RequestParserHandler } from '../../../core/http1/parsed-request.ts';
import { RequestParser } from '../../../core/http1/request-parser.ts';
import type { Http1Settings, UnservedRequest } from './http1-connection-setup.ts';

/**
 * The most unserved requests of one connection given a line each. A client can pipeline a few
 * thousand tiny requests in the bytes read ahead and reset: served, each would have cost an
 * upstream's answer (and met the route's limits); unserved, a line each would make the log
 * the cheapest thing to flood. The last line told counts the rest.
 */
export const UNSERVED_LINES = 32;

/** The unserved requests given a line: the first UNSERVED_LINES, the last of them counting those behind it. */
export function toldUnserved(found: readonly UnservedRequest[]): readonly UnservedRequest[] {
  if (found.length <= UNSERVED_LINES) return found;
  const told = found.slice(0, UNSERVED_LINES);
  told[UNSERVED_LINES - 1] = { ...told[UNSERVED_LINES - 1], untold: found.length - UNSERVED_LINES };
  return told;
}

/**
 * The whole requests in `kept`, in order, up to the first that is not whole or not sound (what
 * follows a request the parser refuses cannot be told apart from its bytes: none of it counts).
 */
export function wholeRequestsIn(kept: Buffer, settings: Http1Settings): UnservedRequest[] {
  const found: UnservedRequest[] = [];
  let head: RequestHead | undefined;
  let whole = false;
  const handler: RequestParserHandler = {
    onHead: (h) => {
      head = h;
    },
    onBody: () => {},
    onComplete: () => {
      whole = true;
    },
  };
  const parser = new RequestParser(handler, settings);
  let rest = kept;
  while (rest.length > 0) {
    if (parser.execute(rest) !== undefined || !whole || head === undefined) break;
    const taken = rest.length - parser.leftover;
    found.push({ head, bytes: taken });
    rest = rest.subarray(taken);
    head = undefined;
    whole = false;
    parser.next();
  }
  return found;
}
