import type { RouteAccessConfig, RouteConfig } from '../../core/config/types.ts';
import { Failure } from '../../core/failure/failure.ts';
import { IpLists } from './ip-lists.ts';

/** What the log's `auth` field says of a request the route's access rules looked at. */
export type AccessNote = 'allowed' | `denied: ${string}` | `failed: ${string}`;

/** A request the access rules refused: the answer, and the reason for the log (never sent to the client). */
export interface AccessRefusal {
  readonly failure: Failure;
  readonly note: AccessNote;
}

/** The facts of a request the access rules read. */
export interface AccessRequest {
  /** The client's address as the gateway knows it (RequestRecord.clientAddress). */
  readonly clientAddress: string;
}

/** One route's access rules, built once per config snapshot. */
class RouteAccess {
  readonly #ipLists: IpLists | undefined;

  constructor(config: RouteAccessConfig) {
    this.#ipLists = config.allow === undefined && config.deny === undefined ? undefined : new IpLists(config);
  }

  check(request: AccessRequest): AccessRefusal | undefined {
    const refused = this.#ipLists?.refusal(request.clientAddress);
    if (refused !== undefined)
      return {
        // The rule stays in the log: a refused client learns only that its address may not pass.
        failure: new Failure('http_request_denied', "the client's address may not use this route", {
          status: 403,
          final: true,
        }),
        note: `denied: ip ${refused}`,
      };
    return undefined;
  }
}

/**
 * The access rules of every route of one config snapshot: IP lists, then (as they land) CORS
 * and authentication. A route without any has no entry and is never asked (RouteConfig.access).
 */
export class Access {
  readonly #routes = new Map<RouteConfig, RouteAccess>();

  constructor(routes: readonly RouteConfig[]) {
    for (const route of routes) if (route.access) this.#routes.set(route, new RouteAccess(route.access));
  }

  /** The refusal to answer with, or undefined when the request may go on (logged `auth: allowed`). */
  check(route: RouteConfig, request: AccessRequest): AccessRefusal | undefined {
    return this.#routes.get(route)?.check(request);
  }
}
