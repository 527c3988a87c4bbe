import type { HeaderRules, RouteConfig } from '../../core/config/types.ts';
import type { AnswerEdit } from '../../core/net/own-answer.ts';
import type { RouteStage, StageHooks, StageRequest } from '../stages/stage.ts';
import { applyHeaderRules, withoutRuled } from './header-rules.ts';

/**
 * The route's header rules as a stage. Its request rules (`routes[].request_headers`) edit the
 * fields every attempt sends (stage.ts's requestEdit: after the access stages' edit and the
 * stages' own, as the upstream's request is made); its response rules (`response_headers`) edit
 * every answer's head, the upstream's, the gateway's own and its error responses alike (a rule's
 * HSTS goes on a 502 too), before the CORS fields; of an upstream's interim (1xx) answer, the
 * fields `remove` and `set` name are taken out (what `set` and `add` write is the final answer's).
 * A rule's {variables} are facts every stage reads (StageRequest's requestId, clientIp and host).
 * A side the route has no rules for has no hook: nothing of it runs.
 */
export function headerRulesStage(route: RouteConfig): RouteStage | undefined {
  const { requestHeaders: request, responseHeaders: answer } = route;
  if (request === undefined && answer === undefined) return undefined;
  const start: (req: StageRequest) => StageHooks =
    request === undefined
      ? (req) => new AnswerRulesRun(answer as HeaderRules, req)
      : answer === undefined
        ? (req) => new RequestRulesRun(request, req)
        : (req) => new HeaderRulesRun(request, answer, req);
  return { name: 'header_rules', timeoutMs: 0, failOpen: false, trusted: true, start };
}

/** One request's run of the route's rules (one object a request, no closure but the request edit's). */
abstract class RulesRun {
  protected readonly rules: HeaderRules;
  protected readonly request: StageRequest;

  constructor(rules: HeaderRules, request: StageRequest) {
    this.rules = rules;
    this.request = request;
  }
}

/** The route's response rules on every answer. */
class AnswerRulesRun extends RulesRun {
  editAnswer(headers: readonly string[]): string[] {
    return applyHeaderRules(headers, this.rules, this.request);
  }

  editInterim(headers: readonly string[]): readonly string[] {
    return withoutRuled(headers, this.rules);
  }
}

/** The route's request rules on what goes upstream. */
class RequestRulesRun extends RulesRun {
  requestEdit(): AnswerEdit {
    return (headers) => applyHeaderRules(headers, this.rules, this.request);
  }
}

/** Both: the request rules on what goes upstream, the response rules on every answer. */
class HeaderRulesRun extends RequestRulesRun {
  readonly #answer: HeaderRules;

  constructor(request: HeaderRules, answer: HeaderRules, req: StageRequest) {
    super(request, req);
    this.#answer = answer;
  }

  editAnswer(headers: readonly string[]): string[] {
    return applyHeaderRules(headers, this.#answer, this.request);
  }

  editInterim(headers: readonly string[]): readonly string[] {
    return withoutRuled(headers, this.#answer);
  }
}
