import type { RouteAccessConfig, RouteConfig } from '../../core/config/types.ts';
import { Failure } from '../../core/failure/failure.ts';
import type { FieldMap } from '../../core/net/downstream.ts';
import type { AnswerEdit, OwnAnswer } from '../../core/net/own-answer.ts';
import { CorsPolicy } from './cors.ts';
import { IpLists } from './ip-lists.ts';

/** What the log's `auth` field says of a request the route's access rules looked at. */
export type AccessNote = 'allowed' | `denied: ${string}` | `failed: ${string}`;

/**
 * What the access rules decided: the note for the log, and the answer when the gateway makes
 * it (a refusal, a preflight's 204); without one the request goes on.
 */
export interface AccessDecision {
  readonly note: AccessNote;
  readonly answer?: Failure | OwnAnswer;
}

/** The facts of a request the access rules read. */
export interface AccessRequest {
  /** The client's address as the gateway knows it (RequestRecord.clientAddress). */
  readonly clientAddress: string;
  readonly method: string;
  readonly fields: FieldMap;
}

const ALLOWED: AccessDecision = { note: 'allowed' };

/** A refusal: the client learns what kind, the log (the note) which rule. */
function refusal(status: 401 | 403, details: string, note: string): AccessDecision {
  return {
    note: `denied: ${note}`,
    answer: new Failure('http_request_denied', details, { status, final: true }),
  };
}

/** One route's access rules, built once per config snapshot. */
class RouteAccess {
  readonly #ipLists: IpLists | undefined;
  readonly cors: CorsPolicy | undefined;

  constructor(config: RouteAccessConfig) {
    this.#ipLists = config.allow === undefined && config.deny === undefined ? undefined : new IpLists(config);
    this.cors = config.cors && new CorsPolicy(config.cors);
  }

  /**
   * In order: the IP lists (nothing from a refused address is looked at), then a CORS
   * preflight, answered here (a browser sends no credentials with one), then authentication.
   */
  check(request: AccessRequest): AccessDecision {
    const refused = this.#ipLists?.refusal(request.clientAddress);
    if (refused !== undefined)
      return refusal(403, "the client's address may not use this route", `ip ${refused}`);
    if (this.cors && CorsPolicy.isPreflight(request.method, request.fields)) {
      const answer = this.cors.preflight(request.fields);
      if (typeof answer === 'string')
        return refusal(403, 'this cross-origin request is not allowed on this route', answer);
      return { note: 'allowed', answer };
    }
    return ALLOWED;
  }
}

/**
 * The access rules of every route of one config snapshot: IP lists, CORS, then authentication.
 * A route without any has no entry and is never asked (RouteConfig.access).
 */
export class Access {
  readonly #routes = new Map<RouteConfig, RouteAccess>();

  constructor(routes: readonly RouteConfig[]) {
    for (const route of routes) if (route.access) this.#routes.set(route, new RouteAccess(route.access));
  }

  check(route: RouteConfig, request: AccessRequest): AccessDecision {
    return this.#routes.get(route)?.check(request) ?? ALLOWED;
  }

  /**
   * The edit of every answer to a request on this route (the upstream's, the gateway's errors,
   * its own answers): the route's response rules, then its CORS fields. Undefined: none.
   */
  answerEdit(
    route: RouteConfig,
    request: { readonly method: string; readonly fields: FieldMap },
    rules: AnswerEdit | undefined,
  ): AnswerEdit | undefined {
    const cors = this.#routes.get(route)?.cors;
    if (cors === undefined) return rules;
    const edit = cors.answerEdit(request.method, request.fields);
    return rules === undefined ? edit : (headers) => edit(rules(headers));
  }
}
