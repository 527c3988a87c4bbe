import net from 'node:net';
import os from 'node:os';
import type { GatewayConfig } from '../../core/config/types.ts';
import { hostPort } from '../../core/net/host-port.ts';
import { createTrustList } from '../../core/net/trust.ts';

/** A listener of the gateway's own a DNS answer must not make a target of (the admin API). */
export interface GatewayListener {
  readonly host: string;
  readonly port: number;
}

/**
 * The addresses a DNS answer may not send requests to unless `discovery.allow` names them:
 * none is an application server, and each is somewhere a poisoned or mistaken record would
 * do harm. 0.0.0.0 and :: (connecting to them reaches this machine's own services); the
 * link-local ranges, home of the cloud metadata service (169.254.169.254: a request there can
 * read the machine's credentials); the metadata addresses outside them (Alibaba's, AWS's
 * IPv6 one). IPv4-mapped IPv6 forms (::ffff:169.254.169.254) match their IPv4 rule.
 */
const REFUSED: readonly (readonly [string, number, 'ipv4' | 'ipv6', string])[] = [
  ['0.0.0.0', 8, 'ipv4', 'an unspecified address'],
  ['::', 128, 'ipv6', 'an unspecified address'],
  ['169.254.0.0', 16, 'ipv4', 'a link-local address (the cloud metadata service lives there)'],
  ['fe80::', 10, 'ipv6', 'a link-local address'],
  ['100.100.100.200', 32, 'ipv4', 'a cloud metadata address'],
  ['fd00:ec2::254', 128, 'ipv6', 'a cloud metadata address'],
];

/** The gateway's listeners an answer may not point at: its admin API, which would take clients' requests as calls. */
export function gatewayListeners(config: GatewayConfig): GatewayListener[] {
  return config.admin === undefined ? [] : [{ host: config.admin.host, port: config.admin.port }];
}

const LOOPBACK = createTrustList(['127.0.0.0/8', '::1']);
const UNSPECIFIED = createTrustList(['0.0.0.0', '::']);

/** Says why a discovered host and port may not be a target, or undefined when it may. */
export type TargetCheck = (host: string, port: number) => string | undefined;

/**
 * The check of one upstream's discovered targets: refused ranges, then the gateway's own
 * admin listener (an answer pointing there would send clients' requests to the admin API),
 * unless the address is in `allow`. A host name (SRV) is looked up when a connection is
 * opened: only `localhost` is known here.
 */
export function createTargetCheck(allow: readonly string[], own: readonly GatewayListener[]): TargetCheck {
  const allowed = createTrustList(allow);
  const refused = REFUSED.map(([address, prefix, family, why]) => {
    const list = new net.BlockList();
    list.addSubnet(address, prefix, family);
    return { list, why };
  });
  return (host, port) => {
    const isAddress = net.isIP(host) !== 0;
    if (isAddress && allowed.has(host)) return undefined;
    if (isAddress) {
      const family = net.isIPv6(host) ? 'ipv6' : 'ipv4';
      for (const { list, why } of refused) if (list.check(host, family)) return why;
    }
    for (const listener of own)
      if (listener.port === port && sameHost(host, listener.host))
        return `the gateway's own admin listener (${hostPort(listener.host, listener.port)})`;
    return undefined;
  };
}

/** Whether `host` reaches a listener bound to `bound` on this machine. */
function sameHost(host: string, bound: string): boolean {
  if (host === bound) return true;
  const local = (h: string) =>
    h === 'localhost' || (net.isIP(h) !== 0 && (LOOPBACK.has(h) || UNSPECIFIED.has(h)));
  // A wildcard listener takes connections to every address of this machine; a loopback one, to loopback.
  if (net.isIP(bound) !== 0 && UNSPECIFIED.has(bound)) return local(host) || machineAddresses().has(host);
  return local(host) && local(bound);
}

function machineAddresses(): Set<string> {
  return new Set(
    Object.values(os.networkInterfaces())
      .flat()
      .map((i) => i?.address ?? ''),
  );
}
