import type { Failure } from './failure.ts';
import { sfString, sfTokenOrString } from './structured-field.ts';

/**
 * Proxy-Status (RFC 9209) members for one gateway.
 * The member name is the gateway's name; `next-hop` is the upstream's name, or its address
 * when the config allows exposing it.
 */
export function failureProxyStatus(proxyName: string, failure: Failure, nextHop: string | undefined): string {
  let member = `${sfTokenOrString(proxyName)}; error=${failure.type}`;
  const { params } = failure;
  if (params.rcode !== undefined) member += `; rcode=${sfString(params.rcode)}`;
  if (params.alertId !== undefined) member += `; alert-id=${params.alertId}`;
  if (params.alertMessage !== undefined) member += `; alert-message=${sfString(params.alertMessage)}`;
  if (failure.details) member += `; details=${sfString(failure.details)}`;
  if (nextHop !== undefined) member += `; next-hop=${sfString(nextHop)}`;
  return member;
}

/** The member for a response the upstream made itself: its status passes through untouched. */
export function receivedStatusProxyStatus(proxyName: string, status: number, nextHop: string): string {
  return `${sfTokenOrString(proxyName)}; received-status=${status}; next-hop=${sfString(nextHop)}`;
}
