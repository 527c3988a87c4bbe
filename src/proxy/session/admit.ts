import type { RouteConfig } from '../../core/config/types.ts';
import { Failure } from '../../core/failure/failure.ts';
import type { DownstreamHead, FieldMap } from '../../core/net/downstream.ts';
import type { AnswerEdit, OwnAnswer } from '../../core/net/own-answer.ts';
import type { RequestRecord } from '../../observe/log/request-record.ts';
import type { Upstream } from '../../upstream/targets/upstream.ts';
import type { ListenerFacts } from '../accept/listener.ts';
import type { AccessDecision } from '../admit/access.ts';
import type { Release } from '../admit/in-flight-limit.ts';
import { RedirectAnswer, redirectLocation } from '../route/redirect.ts';
import { encodedSlashRefused, rewriteEscapes, routedPath } from '../route/request-path.ts';
import { hostnameOf, isLoop, splitTarget } from '../route/request-target.ts';
import { upstreamPath } from '../route/rewrite.ts';
import type { RouteSplit } from '../route/split.ts';
import { hashKeyOf } from '../select/hash-key.ts';
import type { Runtime } from './runtime.ts';

/** A request that passed accept and route: where it goes and as what. The target is picked per attempt. */
export interface Admitted {
  readonly route: RouteConfig;
  readonly upstream: Upstream;
  /** host[:port] the client addressed. */
  readonly authority: string;
  /** The path (query included) the upstream receives: normalised, then rewritten by the route. */
  readonly upstreamPath: string;
  /** Gives back the load-shedding slots the request holds; the caller ties it to the request's end. */
  readonly release: Release;
  /** The access rules' edit of the request sent upstream (credentials dropped); absent: none. */
  readonly requestEdit?: AnswerEdit;
  /** The route's split the upstream was chosen from, when it has one (its canary counts each attempt). */
  readonly split?: RouteSplit;
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
): Admitted | Failure | OwnAnswer | Promise<Admitted | Failure | OwnAnswer> {
  const { head, fields } = request;
  const host = fields.host;
  const target = splitTarget(head.target || '/', typeof host === 'string' ? host : '');
  const { authority } = target;
  if (isLoop(fields.via as string | undefined, runtime.name)) {
    return new Failure('proxy_loop_detected', `this request already passed through "${runtime.name}"`);
  }

  // The router matches, and the upstream receives, the path in its normal form: the one an
  // upstream that resolves "/x/../admin" would act on (src/core/uri-path.ts).
  const normal = routedPath(head.target, target.path, runtime.config.paths);
  if (normal instanceof Failure) return normal;
  const path = normal.path;
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
  const slash = encodedSlashRefused(normal, route);
  if (slash) return slash;
  // Access control, on the normalised path's route: one check for a route without any.
  if (route.access === undefined)
    return pastAccess(runtime, request, record, listener, route, authority, path);
  const decided = runtime.access.check(route, {
    clientAddress: record.clientAddress,
    method: head.method,
    target: head.target,
    host: authority,
    fields,
  });
  const go = (
    decision: AccessDecision,
  ): Admitted | Failure | OwnAnswer | Promise<Admitted | Failure | OwnAnswer> => {
    record.auth = decision.note;
    if (decision.answer) return decision.answer;
    return pastAccess(runtime, request, record, listener, route, authority, path, decision.requestEdit);
  };
  return decided instanceof Promise ? decided.then(go) : go(decided);
}

/** The phases after access control: redirect, rewrite, body limit, then the admit policies. */
function pastAccess(
  runtime: Runtime,
  request: { readonly head: DownstreamHead; readonly fields: FieldMap },
  record: RequestRecord,
  listener: ListenerFacts,
  route: RouteConfig,
  authority: string,
  path: string,
  requestEdit?: AnswerEdit,
): Admitted | Failure | OwnAnswer | Promise<Admitted | Failure> {
  const { head, fields } = request;
  if (route.redirect !== undefined) {
    const location = redirectLocation(route.redirect, listener.protocol, authority, path);
    if (location === undefined)
      return new Failure('http_request_error', 'the request names no host to redirect to', { status: 400 });
    return new RedirectAnswer(route.redirect.status, location);
  }
  // The loader made sure a route without a redirect names an upstream that exists (its split's too).
  const split =
    route.split === undefined && route.canary === undefined ? undefined : runtime.splits.get(route.name);
  const chosen =
    split === undefined
      ? (route.upstream as string)
      : split.choose(
          split.hashKey === undefined
            ? undefined
            : hashKeyOf(split.hashKey, { headers: fields }, record.clientAddress),
        );
  const upstream = runtime.upstreams.get(chosen) as Upstream;
  record.upstream = upstream.name;
  const forwarded = upstreamPath(route, path);
  const escapes = rewriteEscapes(path, forwarded);
  if (escapes) return escapes;
  // The log keeps what the client sent as `path`; what went upstream instead, when it differs.
  if (forwarded !== head.target) record.upstreamPath = forwarded;
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
    release instanceof Failure
      ? release
      : {
          route,
          upstream,
          authority,
          upstreamPath: forwarded,
          release,
          ...(requestEdit ? { requestEdit } : {}),
          ...(split ? { split } : {}),
        };
  return release instanceof Promise ? release.then(admitted) : admitted(release);
}

function pathOnly(path: string): string {
  const q = path.indexOf('?');
  return q === -1 ? path : path.slice(0, q);
}
