import type { AnswerEdit } from '../../core/net/own-answer.ts';
import type { RequestVerdict, RouteStage, StageHooks, StageRequest } from '../stages/stage.ts';
import type { AccessDecision, RouteAccess } from './route-access.ts';

/**
 * A route's access rules as its first stage (stage.ts's RouteStage.access): IP lists, a CORS
 * preflight, then authentication (basic, JWT, forward auth, OpenID Connect sign-in, client
 * certificates), decided before the route's admit policies, which read the identity it names.
 * What it decided goes to the log (`auth`, `auth_hop`, `user`); its edit of the request (the
 * credentials out, a JWT's claims or the auth service's fields in, the identity header) goes
 * upstream. Its waits are the auth hops', each bounded by its own timeout and failing as that
 * hop's 502, 503 or 504 (`next-hop="auth:…"`): the stage sets no deadline of its own.
 */
export function accessStage(access: RouteAccess): RouteStage {
  return {
    name: 'access',
    timeoutMs: Number.POSITIVE_INFINITY,
    failOpen: false,
    trusted: true,
    access: true,
    start: (request) => new AccessRun(access, request),
  };
}

/** One request's run of the access rules. */
class AccessRun implements StageHooks {
  readonly #access: RouteAccess;
  readonly #request: StageRequest;
  /** The edit the rules let the request in with (undefined: none, or not let in). */
  #edit: AnswerEdit | undefined;

  constructor(access: RouteAccess, request: StageRequest) {
    this.#access = access;
    this.#request = request;
  }

  onRequest(): RequestVerdict | Promise<RequestVerdict> {
    const { head, fields, record, path, authority, scheme } = this.#request;
    const decided = this.#access.check({
      clientAddress: record.clientAddress,
      method: head.method,
      target: path,
      host: authority,
      requestId: record.id,
      protocol: scheme,
      fields,
      headers: head.headers,
      trace: record.trace,
      spans: this.#request.spans,
      clientCertificate: head.clientCertificate,
      hopTriesOf: record,
    });
    return decided instanceof Promise ? decided.then((d) => this.#decided(d)) : this.#decided(decided);
  }

  requestEdit(): AnswerEdit | undefined {
    return this.#edit;
  }

  #decided(decision: AccessDecision): RequestVerdict {
    const { record } = this.#request;
    record.auth = decision.note;
    record.authHop = decision.hop;
    record.user = decision.identity;
    this.#edit = decision.requestEdit;
    return decision.answer;
  }
}
