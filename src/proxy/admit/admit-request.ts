import type { RouteConfig, RouteTimeouts, TargetConfig, UpstreamTimeouts } from '../../core/config/types.ts';
import { withCredentialsMasked } from '../../core/credential-names.ts';
import type { AttemptCounter } from '../../core/failure/attempt-counter.ts';
import { Failure } from '../../core/failure/failure.ts';
import type { DownstreamExchange, DownstreamHead, FieldMap } from '../../core/net/downstream.ts';
import type { AnswerEdit, OwnAnswer } from '../../core/net/own-answer.ts';
import type { TrustList } from '../../core/net/trust.ts';
import type { RequestRecord } from '../../observe/log/request-record.ts';
import type { Upstream } from '../../upstream/targets/upstream.ts';
import type { RequestVerdict, StagedVerdict, UpstreamChoice } from '../stages/stage.ts';
import type { Admission } from './admission.ts';
import { fieldsAfterAccess } from './fields-after-access.ts';
import type { InFlightLimit, Release } from './in-flight-limit.ts';
import { keyFieldOf } from './rate-limit.ts';

/** A request that passed accept, route and admit: where it goes and as what. The target is picked per attempt. */
export interface Admitted {
  readonly route: RouteConfig;
  readonly upstream: Upstream;
  /** host[:port] the client addressed. */
  readonly authority: string;
  /** The Host each attempt's target is asked with instead (an auth call: its service's own name); absent: `authority`. */
  readonly targetHost?: (target: TargetConfig) => string;
  /** The path (query included) the upstream receives: normalised, then rewritten by the route. */
  readonly upstreamPath: string;
  /** Gives back the load-shedding slots the request holds; the caller ties it to the request's end. */
  readonly release: Release;
  /** The access rules' edit of the request sent upstream (credentials dropped); absent: none. */
  readonly requestEdit?: AnswerEdit;
  /**
   * The stages' own edit of those fields (a plugin's `request.headers` changes), inside
   * `requestEdit` and made again after the route's header rules, which docs/plugins.md orders
   * before the plugins: a rule's `remove` of the client's copy must not take the plugin's value.
   */
  readonly stageEdit?: AnswerEdit;
  /** The canary's counts of the side chosen, when the route has a canary (each attempt adds to them). */
  readonly window?: AttemptCounter;
  /**
   * Where else it may go while it waits in its upstream's `hold`: the stages, when one chose its
   * upstream (a split's side: stage.ts's upstreamsNow); absent: nowhere else.
   */
  readonly elsewhere?: Elsewhere;
  /**
   * A call the gateway makes itself (the auth hop, a plugin's fetch) for a request of `route`: it
   * runs on its service's upstream's timeouts, not the route's (those are its own requests').
   */
  readonly ownCall?: true;
}

/**
 * The route's timeouts over its upstream's, merged when the config was built
 * (RouteConfig.timeouts): undefined for a route that writes none, and for a call of the gateway's
 * own, which runs on its service's upstream's. Read at each attempt: a held request may have moved
 * to another upstream (Attempts.tryAgain).
 */
export function routeTimeoutsOf(
  admitted: Pick<Admitted, 'route' | 'upstream' | 'ownCall'>,
): RouteTimeouts | undefined {
  return admitted.ownCall ? undefined : admitted.route.timeouts?.[admitted.upstream.name];
}

/** The timeouts the request runs on at its upstream: its route's (routeTimeoutsOf), else the upstream's own. */
export function timeoutsOf(admitted: Pick<Admitted, 'route' | 'upstream' | 'ownCall'>): UpstreamTimeouts {
  return routeTimeoutsOf(admitted) ?? admitted.upstream.config.timeouts;
}

/** What the hold asks of the stages that chose a request's upstream (stage-run.ts's StageRun). */
interface Elsewhere {
  upstreamsNow(redraw: boolean): readonly string[] | Failure | undefined;
}

/**
 * A request admitted to a route that answers it itself, from its stages (its static files): no
 * upstream, no side; what its stages answer is its answer.
 */
export type AdmittedHere = Omit<Admitted, 'upstream' | 'window' | 'elsewhere'> & {
  readonly upstream: undefined;
  readonly window: undefined;
  readonly elsewhere: undefined;
};

/** What the admit phase reads of the route phase's verdict (route-request.ts's Routed). */
interface RoutedRequest {
  readonly route: RouteConfig;
  readonly authority: string;
  /** The path in its normal form, query included: what the routes matched. */
  readonly path: string;
  readonly redirect: OwnAnswer | Failure | undefined;
  readonly upstreamPath: string | Failure;
}

/** What the admit phase reads of the gateway's runtime. */
interface AdmitGateway {
  readonly admission: Admission;
  readonly upstreams: ReadonlyMap<string, Upstream>;
  readonly trust: TrustList;
}

type Verdict =
  | Admitted
  | AdmittedHere
  | Failure
  | OwnAnswer
  | Promise<Admitted | AdmittedHere | Failure | OwnAnswer>;

/** The route's stages, as admit meets them (stage-run.ts's StageRun): its access stages, and the one that chooses its upstream. */
interface AdmitStages extends Elsewhere {
  onAccess(): StagedVerdict;
  readonly accessEdit: AnswerEdit | undefined;
  chooseUpstream(
    fields: FieldMap,
    upstreams: ReadonlyMap<string, unknown>,
  ): UpstreamChoice | Failure | undefined;
}

/**
 * The admit phase, for a routed request: its route's access stages (IP lists, CORS preflights,
 * authentication: stage.ts's RouteStage.access), then a route that redirects is answered (as
 * nginx's `return` comes before its limits), then the rewrite's refusal, the route's body limit
 * on a declared length, and the admit policies (maintenance, rate limits, load shedding), which
 * read the identity access named (`record.user`) and the fields as it left them. Names the
 * upstream and the path sent upstream in the record. A cluster worker's rate-limited route waits
 * for the primary's bucket (see Admission.admit), and an access stage may ask a service: then
 * its answer is a promise; every other request's is decided at once.
 */
export function admitRequest(
  gateway: AdmitGateway,
  listener: { readonly protocol: string; readonly inFlight?: InFlightLimit },
  request: AdmitRequest,
  routed: RoutedRequest,
  stages: AdmitStages | undefined,
): Verdict {
  const access = stages?.onAccess();
  if (access instanceof Promise) return accessLater(gateway, listener, request, routed, stages, access);
  return accessed(gateway, listener, request, routed, stages, access);
}

// The closures of a phase that waits are made in functions apart: a closure in admitRequest's or
// pastAccess's body made every call allocate the context it captures, decided at once or not.

function accessLater(
  gateway: AdmitGateway,
  listener: { readonly inFlight?: InFlightLimit },
  request: AdmitRequest,
  routed: RoutedRequest,
  stages: AdmitStages | undefined,
  access: Promise<RequestVerdict>,
): Verdict {
  return access.then((verdict) => accessed(gateway, listener, request, routed, stages, verdict));
}

/** Past the access stages: their answer or refusal, or on to the steps after access, on the fields as they left them. */
function accessed(
  gateway: AdmitGateway,
  listener: { readonly inFlight?: InFlightLimit },
  request: AdmitRequest,
  routed: RoutedRequest,
  stages: AdmitStages | undefined,
  verdict: RequestVerdict,
): Verdict {
  if (verdict !== undefined) return verdict;
  const requestEdit = stages?.accessEdit;
  const { route } = routed;
  // A rate limit or a split's hash keyed on a field reads it as access left it: a JWT claim's,
  // never the client's copy.
  const keyed =
    route.rateLimit?.key.kind === 'header' || (route.hashKey !== undefined && route.hashKey.kind !== 'client')
      ? fieldsAfterAccess(request.head.headers, request.fields, requestEdit)
      : request.fields;
  const key = route.rateLimit?.key;
  if (key?.kind !== 'header')
    return pastAccess(gateway, listener, keyed, request.record, routed, stages, request, requestEdit);
  const lines = requestEdit === undefined ? request.head.headers : requestEdit(request.head.headers);
  const value = keyFieldOf(key.name, lines);
  if (value instanceof Failure) return value;
  // Sent only as `X_Api_Key`: the bucket is that value's, as the upstream reads it, not the address's.
  // A field the map holds stays as it is there (Host: an absolute-form target's authority).
  const fields =
    value === undefined || keyed[key.name] !== undefined
      ? keyed
      : Object.assign(Object.create(null), keyed, { [key.name]: value });
  return pastAccess(gateway, listener, fields, request.record, routed, stages, request, requestEdit);
}

/**
 * The upstream the request goes to, for the log and the Proxy-Status `next-hop`: the one admit
 * picked, or the side of its split a held request moved to (request-hold.ts), which answers it.
 */
export function goesTo(record: RequestRecord, upstream: Upstream): void {
  record.upstream = upstream.name;
}

/** What admit reads of the request: its head, its fields, its record, and (HTTP/1.1) its exchange's body limit. */
interface AdmitRequest {
  readonly head: DownstreamHead;
  readonly fields: FieldMap;
  readonly record: RequestRecord;
  readonly exchange?: Pick<DownstreamExchange, 'limitBody' | 'background'>;
}

/**
 * The route's body limit, judged as early as the request says its size: a declared length at
 * once; a chunked body's limit goes to the connection, which refuses the chunk-size line that
 * passes it as it is read (413 then, through the body), or now if one already did.
 */
function bodyOverLimit(request: AdmitRequest, fields: FieldMap, limit: number): Failure | undefined {
  const length = fields['content-length'] as string | undefined;
  if (length !== undefined && Number(length) > limit)
    return new Failure(
      'http_request_error',
      `request body of ${length} bytes is over the route's limit of ${limit}`,
      { status: 413 },
    );
  if (request.head.bodyLength !== 'chunked') return undefined;
  const over = request.exchange?.limitBody?.(limit);
  return over === undefined ? undefined : new Failure('http_request_error', over, { status: 413 });
}

/** The steps after access control: redirect, rewrite, body limit, then the admit policies. */
function pastAccess(
  gateway: AdmitGateway,
  listener: { readonly inFlight?: InFlightLimit },
  fields: FieldMap,
  record: RequestRecord,
  routed: RoutedRequest,
  stages: AdmitStages | undefined,
  request: AdmitRequest,
  requestEdit?: AnswerEdit,
): Admitted | AdmittedHere | Failure | OwnAnswer | Promise<Admitted | AdmittedHere | Failure> {
  const { route } = routed;
  if (routed.redirect !== undefined) return routed.redirect;
  // A stage may send it elsewhere (a split's side, a canary's: stage.ts's chooseUpstream).
  const side = route.upstream === undefined ? undefined : stages?.chooseUpstream(fields, gateway.upstreams);
  if (side instanceof Failure) return side;
  // The loader made sure the route's upstream (its split's sides too) exists; a route without
  // one answers from its stages (its static files), and goes to nobody.
  const upstream =
    route.upstream === undefined
      ? undefined
      : (gateway.upstreams.get(side?.upstream ?? route.upstream) as Upstream);
  if (upstream !== undefined) goesTo(record, upstream);
  const forwarded = routed.upstreamPath;
  if (forwarded instanceof Failure) return forwarded;
  // The log keeps what the client sent as `path`; what went upstream instead, when it differs
  // (a credential's value in its query as `***`, as `path` writes it: loggedTarget).
  if (forwarded !== request.head.target) record.upstreamPath = withCredentialsMasked(forwarded);
  const tooLarge = bodyOverLimit(request, fields, route.limits.body);
  if (tooLarge !== undefined) return tooLarge;
  const release = gateway.admission.admit({
    route,
    upstream: upstream?.config,
    fields,
    clientAddress: record.clientAddress,
    trust: gateway.trust,
    listener: listener.inFlight,
    ownRefresh: request.exchange?.background !== undefined,
    identity: record.user,
    record,
  });
  // The stage that chose the upstream says where else the request may go while it waits for a target.
  const elsewhere = side === undefined ? undefined : stages;
  if (release instanceof Promise)
    return admittedLater(routed, upstream, forwarded, release, requestEdit, side, elsewhere);
  return admittedOf(routed, upstream, forwarded, release, requestEdit, side, elsewhere);
}

function admittedLater(
  routed: RoutedRequest,
  upstream: Upstream | undefined,
  upstreamPath: string,
  release: Promise<Release | Failure>,
  requestEdit: AnswerEdit | undefined,
  side: UpstreamChoice | undefined,
  elsewhere: Elsewhere | undefined,
): Promise<Admitted | AdmittedHere | Failure> {
  return release.then((taken) =>
    admittedOf(routed, upstream, upstreamPath, taken, requestEdit, side, elsewhere),
  );
}

/** The admit phase's verdict once the slots are taken (or refused); no closure made for a request decided at once. */
function admittedOf(
  routed: RoutedRequest,
  upstream: Upstream | undefined,
  upstreamPath: string,
  release: Release | Failure,
  requestEdit: AnswerEdit | undefined,
  side: UpstreamChoice | undefined,
  elsewhere: Elsewhere | undefined,
): Admitted | AdmittedHere | Failure {
  if (release instanceof Failure) return release;
  // One shape for every request (no spread): an absent edit, window or elsewhere is undefined; no
  // upstream (and so no side) for a route that answers itself.
  return {
    route: routed.route,
    upstream,
    authority: routed.authority,
    upstreamPath,
    release,
    requestEdit,
    window: side?.window,
    elsewhere,
  } as Admitted | AdmittedHere;
}
