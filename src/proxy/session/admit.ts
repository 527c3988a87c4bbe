import type { RouteConfig } from '../../core/config/types.ts';
import { Failure } from '../../core/failure/failure.ts';
import type { DownstreamHead, FieldMap } from '../../core/net/downstream.ts';
import type { RequestRecord } from '../../observe/log/request-record.ts';
import type { Upstream } from '../../upstream/targets/upstream.ts';
import type { ListenerFacts } from '../accept/listener.ts';
import type { Release } from '../admit/in-flight-limit.ts';
import { RedirectAnswer, redirectLocation } from '../route/redirect.ts';
import { hostnameOf, isLoop, splitTarget } from '../route/request-target.ts';
import type { Runtime } from './runtime.ts';

/** A request that passed accept and route: where it goes and as what. The target is picked per attempt. */
export interface Admitted {
  readonly route: RouteConfig;
  readonly upstream: Upstream;
  /** host[:port] the client addressed. */
  readonly authority: string;
  /** Origin-form path as the client sent it (before strip_prefix). */
  readonly path: string;
  /** Gives back the load-shedding slots the request holds; the caller ties it to the request's end. */
  readonly release: Release;
}

/**
 * The phases between accept and select — loop detection, route, body limit, the admit
 * policies — for plain requests and upgrades alike. Names the route and upstream in the
 * record; returns the failure to answer with when a phase says no. A cluster worker's
 * rate-limited route waits for the primary's bucket (see Admission.admit): its answer is a
 * promise, every other request's is decided at once. A route that redirects is answered
 * before the admit policies (as nginx's `return` comes before its limits): nothing is forwarded.
 * The owner learns the route as soon as it is known (its response rules apply to every answer).
 */
export function admit(
  runtime: Runtime,
  request: { readonly head: DownstreamHead; readonly fields: FieldMap },
  record: RequestRecord,
  listener: ListenerFacts,
  owner: { routed(route: RouteConfig): void },
): Admitted | Failure | RedirectAnswer | Promise<Admitted | Failure> {
  const { head, fields } = request;
  const host = fields.host;
  const { authority, path } = splitTarget(head.target || '/', typeof host === 'string' ? host : '');
  if (isLoop(fields.via as string | undefined, runtime.name)) {
    return new Failure('proxy_loop_detected', `this request already passed through "${runtime.name}"`);
  }

  const hostname = hostnameOf(authority);
  // Before routing: the host's own connection may route it elsewhere (another listener's
  // certificate, another gateway behind the same address), so this one must not answer for it.
  if (head.encrypted && listener.misdirected?.(head.servername, hostname) === true) {
    return new Failure(
      'http_request_error',
      `${hostname} is served under another certificate than the one this connection's TLS server name (${head.servername ?? 'none'}) chose: send it on a connection of its own`,
      { status: 421 },
    );
  }
  const route = runtime.router.match(hostname, path, {
    listener: listener.name,
    scheme: listener.protocol,
    method: head.method,
    headers: fields,
  });
  if (!route)
    return new Failure('destination_not_found', `no route for ${hostname || '(no host)'}${pathOnly(path)}`);
  record.route = route.name;
  owner.routed(route);
  if (route.redirect !== undefined) {
    const location = redirectLocation(route.redirect, listener.protocol, authority, path);
    if (location === undefined)
      return new Failure('http_request_error', 'the request names no host to redirect to', { status: 400 });
    return new RedirectAnswer(route.redirect.status, location);
  }
  // The loader made sure a route without a redirect names an upstream that exists.
  const upstream = runtime.upstreams.get(route.upstream as string) as Upstream;
  record.upstream = upstream.name;
  const length = fields['content-length'] as string | undefined;
  if (length !== undefined && Number(length) > route.limits.body) {
    return new Failure(
      'http_request_error',
      `request body of ${length} bytes is over the route's limit of ${route.limits.body}`,
      { status: 413 },
    );
  }

  const release = runtime.admission.admit({
    route,
    upstream: upstream.config,
    fields,
    clientAddress: record.clientAddress,
    listener: listener.inFlight,
    now: performance.now(),
  });
  const admitted = (release: Release | Failure): Admitted | Failure =>
    release instanceof Failure ? release : { route, upstream, authority, path, release };
  return release instanceof Promise ? release.then(admitted) : admitted(release);
}

function pathOnly(path: string): string {
  const q = path.indexOf('?');
  return q === -1 ? path : path.slice(0, q);
}
