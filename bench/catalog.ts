/** Every system the benchmark knows, in the order of the tables. */
import { candor, candorRef } from './candor.ts';
import { haproxy } from './haproxy.ts';
import { nginxProxy } from './nginx-proxy.ts';
import { contractFloor, netCeiling, nodePeers } from './node-peers.ts';
import type { SystemDefinition } from './systems.ts';

/** No proxy: wrk straight to the origin, the ceiling of the load-generator CPU. */
export const direct: SystemDefinition = {
  id: 'direct',
  label: 'direct (no proxy)',
  group: 'baseline',
  setup: 'wrk straight to the origin: the ceiling of CPU 1 (load generator + origin)',
  async start(context) {
    return { port: context.originPort, process: undefined, accessLog: undefined };
  },
};

export const SYSTEMS: readonly SystemDefinition[] = [
  direct,
  candor,
  ...(candorRef === undefined ? [] : [candorRef]),
  netCeiling,
  contractFloor,
  nginxProxy,
  haproxy,
  ...nodePeers,
];
