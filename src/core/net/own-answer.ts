/**
 * An answer a route makes itself, without its upstream (a redirect, a CORS preflight): its
 * status and the fields it needs; the session adds Content-Length, the request id and the
 * route's response rules, and logs it as the gateway's own.
 */
export class OwnAnswer {
  readonly status: number;
  /** [name, value, …] */
  readonly headers: readonly string[];

  constructor(status: number, headers: readonly string[]) {
    this.status = status;
    this.headers = headers;
  }
}

/** An edit of an answer's fields ([name, value, …]), returning a new list: the route's response rules, its CORS fields. */
export type AnswerEdit = (headers: readonly string[]) => string[];
