import type { Admitted } from '../admit/admit-request.ts';
import type { DeadlineLeft } from '../forward/exchange-options.ts';
import { UpstreamRequest } from '../forward/upstream-request.ts';
import type { AttemptsOwner } from './attempts-owner.ts';
import type { SessionRequest } from './session-request.ts';

/**
 * What every attempt of this request sends (the forward step's UpstreamRequest), made once from
 * the request as the session read it and where admit sent it: its upstream's path and Host, the
 * access rules' edit, the route's stages (their edits of what goes upstream and of its answers),
 * and the retry settings that decide whether its body is read whole first.
 */
export function upstreamRequestOf(
  req: SessionRequest,
  owner: AttemptsOwner,
  admitted: Admitted,
  deadline: DeadlineLeft | undefined,
): UpstreamRequest {
  const { runtime, exchange, head, fields, record, listener } = req;
  return new UpstreamRequest(
    exchange,
    head,
    fields,
    record,
    runtime,
    admitted,
    listener.protocol,
    owner,
    deadline,
  );
}
