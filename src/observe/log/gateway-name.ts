/**
 * The gateway's name in a logger's lines (`gateway`), a box a reload renames. Apart from
 * logger.ts, which loads pino: the cluster primary writes its lines without it (primary-log.ts)
 * and renames them too.
 */

/**
 * The box itself: made once a process's logger is made, shared by that logger and the writer it
 * writes through (whose own lines, the dropped-lines notice and the stderr one, carry it too).
 */
export interface GatewayName {
  name: string;
}

/** The key of the gateway's name a logger writes in each line: a box, not a binding, so that a reload renames its lines. */
export const GATEWAY_NAME: unique symbol = Symbol('candor.gatewayName');

/** A reload's new `name`: the `gateway` field of `logger`'s next lines, its children's and the access log's. */
export function renameGateway(logger: { readonly [GATEWAY_NAME]?: { name: string } }, name: string): void {
  const gateway = logger[GATEWAY_NAME];
  if (gateway !== undefined) gateway.name = name;
}
