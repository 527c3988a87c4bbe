/**
 * The checks that tie routes to listeners: listener names are unique (a name left out is the
 * address as written), a route's `match.listener` names listeners that exist and its
 * `match.scheme` is one they serve, and a redirect never sends a request back to its own
 * scheme, host, port and path (a client would follow it until it gives up); no two of the
 * gateway's sockets (listeners, metrics, admin) are on one address.
 */

import { isIP } from 'node:net';
import { didYouMean } from '../did-you-mean.ts';
import { unmapIPv4 } from '../net/ip-address.ts';
import { canonicalHost, canonicalIpLiteral } from '../net/ip-literal.ts';
import { parseListenAddress } from './addresses.ts';
import { DEFAULTS } from './defaults.ts';
import { isMapping, itemsOf, mappingAt, stringAt } from './raw-access.ts';
import type { Report } from './report.ts';
import type { PathSegment } from './schema.ts';

/** What a route can know of a listener from the document: its name, scheme and port (0: picked at start). */
export interface ListenerFact {
  readonly index: number;
  readonly name: string;
  readonly scheme: 'http' | 'https';
  readonly port: number;
  /** The file gives the name (else it is the address). */
  readonly named: boolean;
  /**
   * The https side of a plain listener behind `trust_forwarded_from`: the requests a trusted
   * proxy's X-Forwarded-Proto says are https (request-scheme.ts), a fact of their own beside the
   * listener's http one. Not judged for redirect loops: the file cannot say whether its proxy
   * ever says https.
   */
  readonly stated: boolean;
}

const DEFAULT_PORT = { http: 80, https: 443 } as const;

export function listenerFacts(listen: unknown, trusted: boolean): ListenerFact[] {
  return itemsOf(listen).flatMap(([index, listener]) => {
    const address = stringAt(listener, 'address');
    const parsed = address === undefined ? undefined : parseListenAddress(address);
    if (address === undefined || parsed === undefined || !('value' in parsed)) return [];
    const scheme = listener.tls === undefined ? 'http' : 'https';
    const name = stringAt(listener, 'name');
    const port = parsed.value.port;
    const own: ListenerFact = {
      index,
      name: name ?? address,
      scheme,
      port,
      named: name !== undefined,
      stated: false,
    };
    return trusted && scheme === 'http' ? [own, { ...own, scheme: 'https', stated: true }] : [own];
  });
}

export function checkListenerNames(listeners: readonly ListenerFact[], report: Report): void {
  const seen = new Map<string, ListenerFact>();
  for (const listener of listeners) {
    if (listener.stated) continue;
    const first = seen.get(listener.name);
    if (first === undefined) seen.set(listener.name, listener);
    // Two unnamed listeners share an address only on port 0 (checkDuplicateListeners): the
    // system gives each its own port, and a route cannot name them apart until they have names.
    else if (listener.named || first.named)
      report(
        ['listen', listener.index, listener.named ? 'name' : 'address'],
        `duplicate listener name '${listener.name}' (already the name of listen[${first.index}]; a listener without a name is named by its address)`,
      );
  }
}

/**
 * The listeners a route can take requests from, after its `match.listener` and `match.scheme`;
 * reports names that match no listener and a scheme none of them serves (`https` is served by
 * a plain listener too when a trusted proxy's X-Forwarded-Proto can say so: its stated fact).
 */
export function routeListeners(
  route: Record<string, unknown>,
  at: (...path: PathSegment[]) => PathSegment[],
  listeners: readonly ListenerFact[],
  report: Report,
): ListenerFact[] {
  const match = mappingAt(route, 'match');
  const named = match?.listener;
  let reachable: ListenerFact[] = [...listeners];
  if (typeof named === 'string' || Array.isArray(named)) {
    const names = typeof named === 'string' ? [[named, at('match', 'listener')] as const] : [];
    if (Array.isArray(named))
      named.forEach((name, i) => {
        if (typeof name === 'string') names.push([name, at('match', 'listener', i)]);
      });
    const known = listeners.map((listener) => listener.name);
    for (const [name, path] of names) {
      if (known.includes(name)) continue;
      const suggestion = didYouMean(name, known);
      const hint =
        suggestion === undefined ? `defined: ${known.join(', ')}` : `did you mean '${suggestion}'?`;
      report(path, `no listener named '${name}' (${hint})`);
    }
    reachable = listeners.filter((listener) => names.some(([name]) => name === listener.name));
  }
  const scheme = stringAt(match, 'scheme');
  if (scheme === undefined) return reachable;
  const serving = reachable.filter((listener) => listener.scheme === scheme);
  if (serving.length === 0 && reachable.length > 0)
    report(
      at('match', 'scheme'),
      `no listener this route can take requests from serves ${scheme}: the route would never be used`,
    );
  return serving;
}

/**
 * A redirect that keeps the host and path (`scheme` and/or `port`) loops on a listener whose
 * scheme it keeps, when it keeps the port too or leaves it to the scheme's default (a client
 * that reached the listener through a port mapping used that default already). Behind a TLS
 * terminator, an https redirect that takes the requests it says are https is a warning.
 */
export function checkRedirectLoop(
  route: Record<string, unknown>,
  at: (...path: PathSegment[]) => PathSegment[],
  reachable: readonly ListenerFact[],
  report: Report,
  warn: Report,
): void {
  const redirect = mappingAt(route, 'redirect');
  if (!isMapping(redirect) || redirect.location !== undefined) return;
  const scheme = redirect.scheme === 'http' || redirect.scheme === 'https' ? redirect.scheme : undefined;
  const port = typeof redirect.port === 'number' ? redirect.port : undefined;
  if (scheme === undefined && port === undefined) return;
  const looping = reachable.find((listener) => {
    if (listener.stated) return false;
    const target = scheme ?? listener.scheme;
    if (target !== listener.scheme) return false;
    if (port !== undefined) return port === listener.port;
    return scheme !== undefined || listener.port === DEFAULT_PORT[target];
  });
  if (looping !== undefined)
    return report(
      at('redirect'),
      `on listener '${looping.name}' (${looping.scheme}, port ${looping.port}) this redirect sends a request to its own scheme, host, port and path, and a client would follow it forever: add match.scheme or match.listener so the route takes only the requests it moves elsewhere`,
      'key',
    );
  // Behind a TLS terminator: a warning, since the file cannot say whether it ever states https.
  const stated = reachable.find((listener) => listener.stated);
  if (stated !== undefined && scheme === 'https' && (port === undefined || port === DEFAULT_PORT.https))
    warn(
      at('redirect'),
      `on listener '${stated.name}' a proxy in trust_forwarded_from that says its client used https (X-Forwarded-Proto: https) has the request redirected to https again, and a client would follow it forever: add match: { scheme: http } so the route takes only the plain-http requests`,
    );
}

/** A socket the gateway opens: a main listener, the metrics listener or the admin listener. */
interface Socket {
  readonly path: (string | number)[];
  readonly label: string;
  readonly address: string;
  /** What the host binds: one address, or (localhost) either loopback, as the system resolves it. */
  readonly hosts: readonly string[];
  /** Why the host is those addresses, when written otherwise ("127.1 is 127.0.0.1"), else ''. */
  readonly spelled: string;
  readonly port: number;
  /** Written as an IPv4-mapped IPv6 address: beside its IPv4 address, the kernel prefers the IPv4 socket. */
  readonly mapped?: boolean;
}

/**
 * The addresses a listen host binds. A name is looked up when the listener opens, so `localhost`
 * or `127.1` beside `127.0.0.1` on one port is one address twice: where the workers bind with
 * SO_REUSEPORT both open, and the kernel shares the address's connections between them at random.
 */
function boundHosts(written: string): { hosts: string[]; spelled: string; mapped?: boolean } {
  const host = written.toLowerCase().replace(/\.$/, '');
  if (host === 'localhost')
    return {
      hosts: ['127.0.0.1', '::1'],
      spelled: 'localhost is 127.0.0.1 or ::1 as the system resolves it',
    };
  // An IPv4-mapped address (::ffff:127.0.0.1) binds its IPv4 address on a dual-stack socket.
  const ipv4 = isIP(host) === 6 ? unmapIPv4(host) : host;
  if (ipv4 !== host) return { hosts: [ipv4], spelled: `${written} is ${ipv4}`, mapped: true };
  const canonical =
    isIP(host) === 6 ? (canonicalIpLiteral(`[${host}]`)?.slice(1, -1) ?? host) : canonicalHost(host);
  return { hosts: [canonical], spelled: canonical === written ? '' : `${written} is ${canonical}` };
}

/**
 * Whether two addresses on one port cannot both be bound: the same host, or a wildcard and an
 * address it takes (0.0.0.0 each IPv4 address; ::, which Node binds for IPv4 too, each address).
 */
function overlaps(a: string, b: string): boolean {
  if (a === b) return true;
  if (a === '::' || b === '::') return isIP(a === '::' ? b : a) !== 0;
  if (a === '0.0.0.0') return isIP(b) === 4;
  return b === '0.0.0.0' && isIP(a) === 4;
}

/** Whether a host binds every address of its family (or both: `::`). */
const WILDCARD = (host: string) => host === '0.0.0.0' || host === '::';

/**
 * Two listeners on one port, a wildcard and an address it takes (0.0.0.0 beside 127.0.0.1): in
 * one process (the library's Gateway) the second is EADDRINUSE, but `candor serve`'s workers bind
 * with SO_REUSEPORT (listen-options.ts), where both open and the kernel gives the specific
 * address's socket every connection to it (seen with two workers: 20 of 20 to 127.0.0.1 went to
 * its listener, those to another address to the wildcard's). Refused either way: the wildcard's
 * settings never apply to the address the other takes.
 */
function overlapping(first: Socket, second: Socket, and: string): string {
  // Both wildcards: an IPv4 connection goes to 0.0.0.0's socket, never to ::'s (seen so too).
  const bothWild = first.hosts.some(WILDCARD) && second.hosts.some(WILDCARD);
  const wildIsFirst = bothWild ? first.hosts.includes('::') : first.hosts.some(WILDCARD);
  const [wild, specific] = wildIsFirst ? [first, second] : [second, first];
  const takes = specific.hosts.includes('0.0.0.0')
    ? 'every IPv4 connection'
    : 'every connection to its address';
  return `${second.address} is where ${first.label} (${first.address}) listens already${and}: under candor serve's workers (SO_REUSEPORT) both open and ${specific.label} (${specific.address}) takes ${takes}, ${wild.label} only the others (in one process the second cannot open: address in use); give them different ports, or keep one`;
}

/**
 * Two sockets of the gateway on one address and port: the second cannot be opened, and serve
 * stops with "address in use" on a file check said was fine. The main listeners, the metrics
 * listener and the admin listener (127.0.0.1:9901 unless written) are all compared, a wildcard
 * (0.0.0.0, or :: which takes IPv4 too) with each address of its family.
 */
export function checkDuplicateListeners(document: Record<string, unknown>, report: Report): void {
  const sockets: Socket[] = [];
  const add = (path: (string | number)[], label: string, address: string | undefined) => {
    const parsed = address === undefined ? undefined : parseListenAddress(address);
    // Port 0 asks the system for a fresh port each time, so it never collides.
    if (address === undefined || parsed === undefined || !('value' in parsed) || parsed.value.port === 0)
      return;
    sockets.push({ path, label, address, ...boundHosts(parsed.value.host), port: parsed.value.port });
  };
  for (const [index, listener] of itemsOf(document.listen))
    add(['listen', index, 'address'], `listen[${index}]`, stringAt(listener, 'address'));
  if (isMapping(document.metrics))
    add(['metrics', 'listen'], 'metrics.listen', stringAt(document.metrics, 'listen'));
  if (isMapping(document.admin)) {
    const written = stringAt(document.admin, 'listen');
    add(
      written === undefined ? ['admin'] : ['admin', 'listen'],
      'admin.listen',
      written ?? DEFAULTS.admin.listen,
    );
  }
  for (const [i, socket] of sockets.entries()) {
    const clashes = (s: Socket) =>
      s.port === socket.port && s.hosts.some((a) => socket.hosts.some((b) => overlaps(a, b)));
    const first = sockets.slice(0, i).find(clashes);
    if (first === undefined) continue;
    const listeners = first.label.startsWith('listen[') && socket.label.startsWith('listen[');
    const same = first.hosts.some((host) => socket.hosts.includes(host));
    const spelled = [...new Set([first.spelled, socket.spelled].filter((why) => why !== ''))];
    const and = spelled.length === 0 ? '' : `, and ${spelled.join(', and ')}`;
    report(
      socket.path,
      listeners && first.address === socket.address
        ? `duplicate listen address ${socket.address} (already used by ${first.label})`
        : listeners && same
          ? `duplicate listen address ${socket.address}: ${first.label} (${first.address}) listens there already${and}; ${
              // Both open, but not as one group: Linux scores an AF_INET listener above an
              // AF_INET6 one bound to the mapped address, so no connection ever reaches the latter.
              first.mapped === true || socket.mapped === true
                ? 'the kernel gives the IPv4 socket every connection and the other none'
                : 'the two would share its connections at random'
            }: write each address once`
          : listeners
            ? overlapping(first, socket, and)
            : `${socket.address}${socket.path.length === 1 ? ` (${socket.label}'s default)` : ''} is where ${first.label} (${first.address}) listens already${and}: the gateway could not open both (address in use)`,
    );
  }
}
