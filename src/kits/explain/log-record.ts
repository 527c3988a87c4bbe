import type { FailureType } from '../../core/failure/taxonomy.ts';
import type { VariantName } from '../../core/failure/variants.ts';

/**
 * What a log format reader makes of one line: a finished request (an access-log line), or a
 * failed attempt with no status of its own (an nginx error-log line), to be matched with the
 * request it belongs to.
 */
export type LogRecord = RequestLine | FailedAttempt | HealthEvent | ChangeLine;

/**
 * Who produced a 5xx a request line records: the proxy itself (it could not get an answer),
 * or the upstream (its own status, passed through). Undefined: the format cannot tell (nginx
 * and Traefik copy their own status into the upstream field), and the report says so.
 */
export type Producer = 'proxy' | 'upstream';

interface RecordBase {
  /**
   * Epoch milliseconds; NaN when the line has no time (an nginx log_format or a HAProxy
   * log-format without one): counted, never on the timeline, in a storm, or joined by time.
   */
  readonly time: number;
  /** The upstream's name where the log knows it (HAProxy's backend, Candor's upstream). */
  readonly upstream?: string;
  /** The one server or address that was tried: "127.0.0.1:3001", "be_api/api2". */
  readonly target?: string;
  /**
   * Client and request line, for matching an error-log line with its access-log line
   * ("127.0.0.1 GET /a HTTP/1.1"); only formats that must be joined set it.
   */
  readonly joinKey?: string;
  /**
   * The request id where the log has one (Candor's `id`, nginx's `$request_id`, ingress-nginx's
   * `$req_id`, Envoy's `x-request-id`): joins error lines to requests before time does.
   */
  readonly requestId?: string;
}

export interface RequestLine extends RecordBase {
  readonly kind: 'request';
  /**
   * The status sent to the client: 100–599; 9 for an HTTP/0.9 answer passed through (nginx
   * logs "009"); 0 when none was sent (HAProxy's -1).
   */
  readonly status: number;
  /** The failure behind the answer, when the line says (Candor's `error`, HAProxy's flags). */
  readonly failure?: FailureType;
  /**
   * An error type the line names that this version does not know (a log another Candor version
   * wrote): counted under its own name, never taken for a type this version has, nor for a 5xx
   * whose log gave no cause.
   */
  readonly unknownFailure?: string;
  /**
   * The line's failure is no attempt's at its `target`: the gateway answered after its last try
   * (a hold that ran out, a client's deadline in backoff). Counted against no target, as the
   * metrics and the status page count none: the tries' own failures are (`retried`).
   */
  readonly failureNotAtTarget?: true;
  /** Failures of earlier attempts of this request that were retried (Candor's `tries`). */
  readonly retried?: readonly FailureType[];
  /** The target each of `retried` was sent to, where the log names it (Candor's `tries`). */
  readonly retriedTargets?: ReadonlyArray<string | undefined>;
  /**
   * Failed attempts of a call the gateway made for the request on its own account that retried
   * (Candor's `hop_tries`: its forward-auth service, a plugin's fetch), each with the hop that made
   * it (`auth:NAME`, `plugin:NAME`), its target and its count (more than 1 for the ones a long list
   * counted instead of listing); the call's last one, when it is the line's own failure, is not here.
   */
  readonly hopRetried?: ReadonlyArray<{
    readonly hop: string;
    readonly target?: string;
    readonly failure: FailureType;
    readonly count: number;
  }>;
  /** Retried ones a long `tries` list counted instead of listing (Candor's `{omitted, errors}`): each type's count. */
  readonly retriedOmitted?: ReadonlyArray<readonly [FailureType, number]>;
  /**
   * How long the gateway waited on the upstream for the response head (a success's response
   * time; a timeout's wait), when the format records it.
   */
  readonly waitMs?: number;
  /** The client left before the response was complete. */
  readonly clientAborted?: boolean;
  /**
   * The client left while the answer's body streamed, its head sent (Candor's `client_closed`
   * at `body_streaming`, HAProxy's `CD`/`CL` after a head), where the format tells; otherwise a
   * client that left is told as having left before the answer.
   */
  readonly clientLeftMidAnswer?: true;
  /** Who produced the status, when the line says (see Producer). */
  readonly producedBy?: Producer;
  /**
   * The failure came after the upstream's head went to the client (Candor's `stage:
   * body_streaming`): the status is the upstream's, its body cut, though the line names a failure.
   */
  readonly failedAfterHead?: true;
  /**
   * How many upstream attempts the request made, when the line says (nginx's `$upstream_addr`
   * "a, b" or "a : b": 2): how many error-log lines it claims. One when absent.
   */
  readonly attempts?: number;
  /**
   * Earlier attempts of this request that failed and were retried, where the log counts them but
   * does not name their failure (Traefik's `RetryAttempts`): counted, never given a type.
   */
  readonly untypedRetries?: number;
  /** What the client spoke, when the line says (Candor's `protocol`): "HTTP/1.1", "HTTP/2". */
  readonly protocol?: string;
  /** The route that took the request, when the line says (Candor's `route`). */
  readonly route?: string;
  /** The request's method, when the line says. */
  readonly method?: string;
  /**
   * Who answered a 401 or 403, when the line says: the proxy's access rules (Candor's `auth:
   * denied…`) or the upstream (its own refusal, passed through).
   */
  readonly deniedBy?: Producer;
  /**
   * A gRPC request's status as its client read it (Candor's `grpc_status`), and who set it: the
   * proxy (its Trailers-Only answer to a failure) or the upstream (its own, passed through).
   */
  readonly grpc?: { readonly status: number; readonly producedBy: Producer };
  /**
   * A timeout cut by the client's own deadline (a gRPC client's `grpc-timeout`, shorter than the
   * proxy's), in ms: not the proxy's timeout, so no advice about it.
   */
  readonly clientDeadlineMs?: number;
  /** Where the client's own deadline cut it (with clientDeadlineMs). */
  readonly clientDeadlineAt?: ClientDeadlineAt;
  /**
   * A stored answer went to the client in place of a failure (Candor's `stale_cause`): the
   * failure's type, or `upstream_503` (`_500`…) for the upstream's own status the client never saw.
   */
  readonly staleCause?: string;
  /**
   * Who made the failure's answer, where the line tells (Candor's): absent, an upstream (or a
   * format that does not say). The failure table's words are of an upstream; the others' are
   * their own (case-words.ts).
   */
  readonly maker?: Maker;
  /** The case of the failure's type the line names (Candor's `variant`, variants.ts): its words are the case's. */
  readonly variant?: VariantName;
  /**
   * The proxy's own rate or connection limit refused it (nginx's "limiting requests" error
   * line): a refusal the client can wait out, whatever status it was logged with (limit_req and
   * limit_conn answer 503 unless told otherwise), never a deny rule's.
   */
  readonly limit?: true;
  /** A plugin that answered the request itself (Candor's `answered_by`: `plugin:NAME`), with no failure. */
  readonly answeredBy?: string;
}

/** The case of a refusal by the proxy's own rate or connection limit (RequestLine.limit). */
export const LIMIT_CASE = 'limit';

/**
 * Who made a failure's answer when it was not an upstream: the route's auth hop (`auth: failed`),
 * a plugin (its bug, or its own answer), the route's own files (a static route), the session
 * store of OpenID Connect, or the gateway's own decision (maintenance, load shedding, a
 * refusal) with no attempt made. Each is counted at a place of its own (placeOf), never at the
 * route's upstream, which was not asked.
 */
export type Maker = 'auth-hop' | 'plugin' | 'files' | 'session-store' | 'gateway';

/**
 * Where a client's own deadline cut a request: before anything of it was sent (Candor's
 * `client_deadline_connecting`: a connection still opening, a full pool, a retry's backoff, a
 * deadline of 0), waiting for the response head, or while the response body streamed.
 */
export type ClientDeadlineAt = 'notSent' | 'head' | 'body';

export interface FailedAttempt extends RecordBase {
  readonly kind: 'attempt';
  readonly failure: FailureType;
  /** The proxy's own rate or connection limit refused the request (RequestLine.limit). */
  readonly limit?: true;
}

/**
 * A change of a server's or a backend's health the proxy wrote down (HAProxy's "Server be/s1 is
 * DOWN, reason: Layer4 connection problem"): not a request, but the story behind a 503 storm,
 * shown on the same timeline.
 */
export interface HealthEvent extends RecordBase {
  readonly kind: 'health';
  /**
   * down / up: a server's state changed (Candor's: a target ejected, back in rotation);
   * no-server: a whole backend had none left; circuit-open: Candor's circuit of an upstream
   * opened, every request to it answered 503 meanwhile.
   */
  readonly state: 'down' | 'up' | 'no-server' | 'circuit-open';
  /** What the proxy gave as the reason ("Layer4 connection problem: Connection refused"). */
  readonly reason?: string;
  /** How long the failing check took, when the line says. */
  readonly checkMs?: number;
  /** The failure type the reason maps to, where it maps to one. */
  readonly failure?: FailureType;
}

/**
 * A change the gateway wrote down as it made it (Candor's event lines: a reload, an admin
 * change, a DNS answer, a target's health transition, a canary's step, a worker's death): what a storm is placed
 * against, with the deploys of `--deploys`.
 */
export interface ChangeLine extends RecordBase {
  readonly kind: 'change';
  /** The change in words: "reload sha256:1f2e… (upstream api: targets http://10.0.0.7:80 joined)". */
  readonly label: string;
  /** A canary's event: its route and action (a later rollback of the route undoes it: storms.ts). */
  readonly canary?: CanaryMove;
  /** A worker of the gateway died (its `worker` event): nothing to undo, what it held was cut. */
  readonly workerDeath?: true;
}

/** What a canary's event did, for telling which change a rollback undid. */
export interface CanaryMove {
  readonly route: string;
  readonly action: string;
}

/**
 * Where a failure of a route's auth hop (its forward-auth service, its JWKS endpoint) is counted:
 * Candor logs it with `auth: failed: <type>` and no upstream, and it is no upstream's failure.
 */
export const AUTH_HOP_PLACE = 'auth hop';

/** Whether a place is a route's auth hop: the log's `auth:NAME` (`auth:HOST:PORT`), or an older log's "auth hop (route app)". */
export const isAuthHopPlace = (place: string): boolean =>
  place.startsWith(AUTH_HOP_PLACE) || place.startsWith('auth:');

/** The auth hop's place for a route, where the line does not name it (`auth_hop`): "auth hop (route app)". */
export const authHopPlace = (route: string | undefined): string =>
  route === undefined ? AUTH_HOP_PLACE : `${AUTH_HOP_PLACE} (route ${route})`;

/** The route's own files' place: "files (route assets)". */
export const filesPlace = (route: string | undefined): string =>
  route === undefined ? 'files' : `files (route ${route})`;

/** The gateway's own decisions' place (maintenance, a refusal): "gateway (route app)". */
export const gatewayPlace = (route: string | undefined): string =>
  route === undefined ? 'gateway' : `gateway (route ${route})`;

/** The OpenID Connect session store's place: "session store (route app)". */
export const sessionStorePlace = (route: string | undefined): string =>
  route === undefined ? 'session store' : `session store (route ${route})`;

/**
 * What a place a report names is, for advice that sends the operator to it ("look at … itself"):
 * an upstream unless it is one of the places above or a plugin.
 */
export function placeWords(place: string): string {
  if (isAuthHopPlace(place)) return "the route's auth hop (its forward-auth service or JWKS endpoint)";
  if (place === 'files' || place.startsWith('files (')) return "the route's own files";
  if (place === 'gateway' || place.startsWith('gateway ('))
    return "the route's own settings at the gateway (maintenance, limits)";
  if (place.startsWith('session store')) return 'the Redis the sessions are kept in';
  if (place.startsWith('plugin:')) return 'the plugin';
  return 'the upstream';
}

/** A line of a file, numbered from 1 as an editor does (blank lines count). */
export interface NumberedLine {
  readonly line: number;
  readonly text: string;
}

/** Who produced a file's 5xx (see Producer); `cannotTell` when the line does not say. */
export interface FiveXxSplit {
  byProxy: number;
  passedThrough: number;
  cannotTell: number;
}
