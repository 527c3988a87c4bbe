/**
 * The checks that tie routes to listeners: listener names are unique (a name left out is the
 * address as written), a route's `match.listener` names listeners that exist and its
 * `match.scheme` is one they serve, and a redirect never sends a request back to its own
 * scheme, host, port and path (a client would follow it until it gives up).
 */

import { parseListenAddress } from './addresses.ts';
import { didYouMean } from './did-you-mean.ts';
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
}

const DEFAULT_PORT = { http: 80, https: 443 } as const;

export function listenerFacts(listen: unknown): ListenerFact[] {
  return itemsOf(listen).flatMap(([index, listener]) => {
    const address = stringAt(listener, 'address');
    const parsed = address === undefined ? undefined : parseListenAddress(address);
    if (address === undefined || parsed === undefined || !('value' in parsed)) return [];
    const scheme = listener.tls === undefined ? 'http' : 'https';
    const name = stringAt(listener, 'name');
    return [{ index, name: name ?? address, scheme, port: parsed.value.port, named: name !== undefined }];
  });
}

export function checkListenerNames(listeners: readonly ListenerFact[], report: Report): void {
  const seen = new Map<string, ListenerFact>();
  for (const listener of listeners) {
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
 * reports names that match no listener and a scheme none of them serves.
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
 * that reached the listener through a port mapping used that default already).
 */
export function checkRedirectLoop(
  route: Record<string, unknown>,
  at: (...path: PathSegment[]) => PathSegment[],
  reachable: readonly ListenerFact[],
  report: Report,
): void {
  const redirect = mappingAt(route, 'redirect');
  if (!isMapping(redirect) || redirect.location !== undefined) return;
  const scheme = redirect.scheme === 'http' || redirect.scheme === 'https' ? redirect.scheme : undefined;
  const port = typeof redirect.port === 'number' ? redirect.port : undefined;
  if (scheme === undefined && port === undefined) return;
  const looping = reachable.find((listener) => {
    const target = scheme ?? listener.scheme;
    if (target !== listener.scheme) return false;
    if (port !== undefined) return port === listener.port;
    return scheme !== undefined || listener.port === DEFAULT_PORT[target];
  });
  if (looping === undefined) return;
  report(
    at('redirect'),
    `on listener '${looping.name}' (${looping.scheme}, port ${looping.port}) this redirect sends a request to its own scheme, host, port and path, and a client would follow it forever: add match.scheme or match.listener so the route takes only the requests it moves elsewhere`,
    'key',
  );
}
