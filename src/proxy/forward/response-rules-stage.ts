import type { HeaderRules, RouteConfig } from '../../core/config/types.ts';
import type { TrustList } from '../../core/net/trust.ts';
import type { RouteStage, StageRequest } from '../stages/stage.ts';
import { applyHeaderRules, templateVars } from './header-rules.ts';

/**
 * The route's response header rules (`routes[].response_headers`) as a stage: they edit every
 * answer's head, the upstream's, the gateway's own and its error responses alike (a rule's HSTS
 * goes on a 502 too), before the CORS fields.
 */
export function responseRulesStage(route: RouteConfig, trust: TrustList): RouteStage | undefined {
  const rules = route.responseHeaders;
  if (rules === undefined) return undefined;
  return {
    name: 'response_headers',
    timeoutMs: 0,
    failOpen: false,
    trusted: true,
    start: (request) => new ResponseRulesRun(rules, request, trust),
  };
}

/** One request's edit of its answers by the route's rules (one object a request, no closure). */
class ResponseRulesRun {
  readonly #rules: HeaderRules;
  readonly #request: StageRequest;
  readonly #trust: TrustList;

  constructor(rules: HeaderRules, request: StageRequest, trust: TrustList) {
    this.#rules = rules;
    this.#request = request;
    this.#trust = trust;
  }

  editAnswer(headers: readonly string[]): string[] {
    const { record, fields, host } = this.#request;
    return applyHeaderRules(headers, this.#rules, templateVars(record, fields, this.#trust, host));
  }
}
