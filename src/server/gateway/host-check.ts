/**
 * Which Host an admin request may name: the admin listener's own names and addresses, and the
 * names `admin.allowed_hosts` adds. A browser tricked by DNS rebinding (a page on
 * evil.example whose name is made to resolve to 127.0.0.1) reaches the listener's address but
 * still sends `Host: evil.example`; the token guards the rest, but the open routes and the
 * answers of refused calls would be readable by that page. An IP literal or `localhost` is
 * never such a page's Host: a name is what a rebinding attacker controls.
 */
import { isIP } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import { trimOws } from '../../core/http1/syntax.ts';
import { hostnameOf } from '../../core/net/hostname.ts';
import { canonicalIpLiteral } from '../../core/net/ip-literal.ts';

export interface HostCheck {
  /** Whether a request with this Host header (undefined: none, as HTTP/1.0 allows) may be answered. */
  allows(hostHeader: string | undefined): boolean;
  /** The names accepted, for the refusal's explanation. */
  describe(): string;
}

const WILDCARDS = new Set(['', '0.0.0.0', '::', '[::]']);
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|\[::1\]|localhost)$/;

/** An address as a Host header's is compared (hostnameOf): IPv6 bracketed, in its canonical form. */
function asHost(address: string): string {
  const bare = address.replace(/^\[|\]$/g, '').toLowerCase();
  return isIP(bare) === 6 ? (canonicalIpLiteral(`[${bare}]`) ?? `[${bare}]`) : bare;
}

/**
 * This machine's interfaces, or none when they cannot be listed: getifaddrs(3) asks the kernel
 * over a netlink socket, which a sandbox may refuse (systemd's RestrictAddressFamilies without
 * AF_NETLINK), and os.networkInterfaces() then throws. Thrown in a request handler, that ended
 * the process serving metrics (the primary); the Host check now refuses the addresses it cannot
 * confirm, and still accepts localhost, the host name and allowed_hosts.
 */
function machineInterfaces(): ReturnType<typeof networkInterfaces> {
  try {
    return networkInterfaces();
  } catch {
    return {};
  }
}

export function createHostCheck(listenHost: string, allowedHosts: readonly string[]): HostCheck {
  const own = asHost(listenHost);
  const wildcard = WILDCARDS.has(own);
  /** The names this listener is reached by: fixed, but a wildcard's interfaces may change while it runs. */
  const listenerNames = (): Set<string> => {
    const names = new Set<string>();
    if (LOOPBACK.test(own)) {
      // Loopback: localhost and the loopback addresses all lead here.
      for (const name of [own, 'localhost', '127.0.0.1', '[::1]']) names.add(name);
      return names;
    }
    names.add(hostname().toLowerCase());
    if (!wildcard) {
      names.add(own);
      return names;
    }
    // The wildcard itself too: `candor reload` (or curl) connects to the address written, and
    // a page that fetches http://0.0.0.0/ directly is cross-origin, so reads nothing.
    if (own !== '') names.add(own);
    // Loopback too, which machineInterfaces() lists but may not (a sandbox that refuses it).
    for (const name of ['localhost', '127.0.0.1', '[::1]']) names.add(name);
    for (const list of Object.values(machineInterfaces()))
      for (const entry of list ?? []) names.add(asHost(entry.address.split('%')[0]));
    return names;
  };
  const fixed = wildcard ? undefined : listenerNames();
  const listed = (host: string) =>
    allowedHosts.some((name) => (name.startsWith('*.') ? host.endsWith(name.slice(1)) : host === name));
  return {
    allows(hostHeader) {
      if (hostHeader === undefined) return true;
      const host = hostnameOf(trimOws(hostHeader));
      return (fixed ?? listenerNames()).has(host) || listed(host);
    },
    describe() {
      const names = wildcard
        ? ['this machine’s addresses', 'localhost', hostname().toLowerCase()]
        : [...(fixed ?? [])];
      return [...names, ...allowedHosts].join(', ');
    },
  };
}
