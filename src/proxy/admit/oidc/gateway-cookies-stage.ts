/**
 * The gateway's own cookies kept apart from every route's upstream, as a stage of each route of a
 * config where any route signs in with OpenID Connect (gateway-cookies.ts): the sessions' and the
 * sign-ins' cookies taken out of what goes upstream (the session cookie is its host's, Path=/,
 * sent to every route of that host, and whoever reads it can replay it as its user), and an
 * upstream's Set-Cookie of those names taken out of its answer (an upgrade's 101 too). One run for every request: it
 * keeps nothing of a request.
 */
import type { AnswerEdit } from '../../../core/net/own-answer.ts';
import type { RouteStage, StageHooks, UpstreamAnswerHead } from '../../stages/stage.ts';
import { withoutGatewayCookies, withoutPlantedCookies } from './gateway-cookies.ts';

/** The stage for every route of a config whose routes sign in with sessions named `names`; undefined when none does. */
export function gatewayCookiesStage(names: readonly string[]): RouteStage | undefined {
  const strip = withoutGatewayCookies(names);
  const unplant = withoutPlantedCookies(names);
  if (strip === undefined || unplant === undefined) return undefined;
  const run: StageHooks = {
    requestEdit: (): AnswerEdit => strip,
    onUpstreamHead(head: UpstreamAnswerHead): undefined {
      unplant(head.headers);
      return undefined;
    },
    // An upgrade's 101 meets no onUpstreamHead, and a browser keeps the cookies it sets too.
    editSwitch(headers: readonly string[]): readonly string[] {
      const out = [...headers];
      unplant(out);
      return out;
    },
  };
  return { name: 'gateway_cookies', timeoutMs: 0, failOpen: false, trusted: true, start: () => run };
}
