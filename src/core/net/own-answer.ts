/**
 * An answer the gateway makes itself, without an upstream (a redirect, a CORS preflight,
 * `OPTIONS *`, an ACME validation): its status, the fields it needs and its body; the session
 * adds Content-Length, the request id and the route's response rules, and logs it as the
 * gateway's own.
 */
export class OwnAnswer {
  readonly status: number;
  /** [name, value, …] */
  readonly headers: readonly string[];
  readonly body: Buffer;

  constructor(status: number, headers: readonly string[], body: Buffer = EMPTY) {
    this.status = status;
    this.headers = headers;
    this.body = body;
  }
}

const EMPTY = Buffer.alloc(0);

/** An edit of an answer's fields ([name, value, …]), returning a new list: the route's response rules, its CORS fields. */
export type AnswerEdit = (headers: readonly string[]) => string[];
