import type { Admitted } from '../admit/admit-request.ts';
import { UpstreamRequest } from '../forward/upstream-request.ts';
import type { AttemptsOwner } from './attempts-owner.ts';
import type { SessionRequest } from './session-request.ts';

/**
 * What every attempt of this request sends (the forward step's UpstreamRequest), made once from
 * the request as the session read it and where admit sent it: its upstream's path and Host, the
 * route's header rules (their variables and response edit the session's), the access rules' edit,
 * and the retry settings that decide whether its body is read whole first.
 */
export function upstreamRequestOf(
  req: SessionRequest,
  owner: AttemptsOwner,
  admitted: Admitted,
): UpstreamRequest {
  const { runtime, exchange, fields, record, listener } = req;
  return new UpstreamRequest(exchange, fields, record, runtime, {
    route: admitted.route,
    path: admitted.upstreamPath,
    authority: admitted.authority,
    targetHost: admitted.targetHost,
    protocol: listener.protocol,
    vars: owner,
    responseEdit: owner.responseEdit(),
    stages: owner.stageRun(),
    bodyInHand: owner.bodyInHand(),
    requestEdit: admitted.requestEdit,
    retries: admitted.upstream.config.retries,
  });
}
