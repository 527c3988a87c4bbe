import {
  CLIENTS_DOING,
  FAILURES,
  type FailureKind,
  type FailureType,
  type Shape,
  type Stage,
  TARGET_FAULT_SHAPES,
} from './taxonomy.ts';
import { VARIANTS, type VariantName } from './variants.ts';

/** Extra RFC 9209 parameters some error types carry. */
interface FailureParams {
  /** dns_error: the DNS response code, e.g. "NXDOMAIN". */
  readonly rcode?: string;
  /** tls_alert_received: the alert's numeric id and name. */
  readonly alertId?: number;
  readonly alertMessage?: string;
}

interface FailureInit {
  readonly stage?: Stage;
  /** A finer status than the kind's default; only `client` and `gateway` kinds use it (e.g. 413, 405). */
  readonly status?: number;
  readonly params?: FailureParams;
  /** Seconds, for kinds that carry Retry-After. */
  readonly retryAfter?: number;
  readonly cause?: unknown;
  /**
   * The upstream said it never processed the request (an HTTP/2 REFUSED_STREAM, a GOAWAY
   * below its stream): the record stays `not_sent` however far the bytes went (see at()), but for
   * a streamed body of which some went (spent()).
   */
  readonly unprocessed?: boolean;
  /**
   * Unprocessed because the upstream ended, with a graceful GOAWAY (NO_ERROR), an HTTP/2 session
   * that had served streams (its last stream id above 0) before this one reached it: the
   * connection's ordinary end (nginx's `keepalive_requests`, grpc-go's `MaxConnectionAge`) raced
   * with this request, HTTP/2's keep-alive race. No fault of the target's, and its retry is not
   * charged to the budget (a GOAWAY before any stream, last stream id 0, is a refusal: charged).
   */
  readonly sessionEnded?: boolean;
  /**
   * A refusal no retry can turn around (an IP list, a credential the gateway denied), where the
   * kind's own rule is for a refusal that passes (a rate limit).
   */
  readonly final?: boolean;
  /** The WWW-Authenticate challenge of a 401 (RFC 9110 §11.6.1). */
  readonly challenge?: string;
  /**
   * A sign-in the identity provider declined or did not complete: the path of this host (the
   * page first asked for) whose request begins a new one. A person in a browser has no
   * credentials to send again as a challenge asks; what they can do is try the sign-in again.
   */
  readonly signInAgain?: string;
  /** A 405's Allow (§15.5.6), where the methods allowed are fewer than those Candor forwards (a static route's GET, HEAD). */
  readonly allow?: string;
  /** The hop that failed when it is not the route's upstream (an auth hop: "auth:idp.example.com"). */
  readonly nextHop?: string;
  /**
   * The silence it ended was the client's turn: a gRPC call whose upstream had answered the
   * client's last message, the client's side still open. Judged against no target (clientsDoing).
   */
  readonly clientsTurn?: boolean;
  /**
   * The deadline that ended it mid-body was the gRPC call's own as its upstream was told it
   * (grpc-timeout: `timeouts.total`, shorter than the client's): an upstream still answering then
   * kept to the call as asked; or the route's own cap (`total_includes_body`), which an upstream
   * still sending did not fail. Judged against no target (clientsDoing), as the client's own
   * deadline is not.
   */
  readonly callsDeadline?: boolean;
  /**
   * The total deadline that ended it was spent in part by the gateway's own waits: in its pool
   * queue (the attempt waited there for a connection, was sent, and was cut before its upstream's
   * head clock ran out), or in a route stage that held the response head the upstream had sent
   * (a plugin's onResponse deciding, with the deadline covering the body). The client's 504 all
   * the same, but judged against no target: an upstream ejected for the gateway's own queue under
   * overload turned it into a storm of 503s.
   */
  readonly ownWaitSpent?: boolean;
  /** The case of its type whose explanation the error bodies give, in place of the kind's (variants.ts; its title and other facts stand). */
  readonly variant?: VariantName;
  /** The status of the route's upstream's answer this failure came after (see Failure.receivedStatus). */
  readonly receivedStatus?: number;
}

/** The kind of `type`, with the words (explanation and fix) of its `variant` (whose type must be `type`: a variant of another type is a bug). */
function kindOf(type: FailureType, variant: VariantName | undefined): FailureKind {
  if (variant === undefined) return FAILURES[type];
  const words = VARIANTS[variant];
  if (words.type !== type) throw new TypeError(`the variant ${variant} is of ${words.type}, not ${type}`);
  return { ...FAILURES[type], explanation: words.explanation, fix: words.fix };
}

/** The log's flag of a plugin's hop that failed after the route's upstream answered (Failure.flag). */
const PLUGIN_HOP_FAILED = 'PHF';

/**
 * One classified failure: the record every later phase reads (status, Proxy-Status, error
 * body, log line, retry decision). It is an Error so it can travel through abort paths and
 * promise rejections unchanged.
 */
export class Failure extends Error {
  readonly type: FailureType;
  readonly kind: FailureKind;
  readonly status: number;
  readonly stage: Stage;
  /** Specific, human-readable detail, e.g. "connect ECONNREFUSED 127.0.0.1:3001 after 0.4 ms". */
  readonly details: string;
  readonly params: FailureParams;
  readonly retryAfter: number | undefined;
  readonly unprocessed: boolean;
  /** The upstream's graceful end of a session that had served streams left it unprocessed (FailureInit.sessionEnded). */
  readonly sessionEnded: boolean;
  /** Whether the client may usefully try again: the kind's rule, unless this failure is final. */
  readonly clientMayRetry: boolean;
  readonly challenge: string | undefined;
  readonly signInAgain: string | undefined;
  readonly allow: string | undefined;
  readonly nextHop: string | undefined;
  readonly clientsTurn: boolean;
  readonly callsDeadline: boolean;
  /** The gateway's own waits (its pool queue, a stage's hold) spent its deadline (FailureInit.ownWaitSpent): it judges no target. */
  readonly ownWaitSpent: boolean;
  /** The case of its type whose words are given in place of the kind's, carried by every copy of this failure. */
  readonly variant: VariantName | undefined;
  /**
   * The status of the answer the route's upstream gave before the gateway failed on it (a
   * plugin's onResponse threw, or let out its hop's failure): the attempt got its response, and
   * the client is told which (Proxy-Status `received-status`, RFC 9209 §2.1.4).
   */
  readonly receivedStatus: number | undefined;

  constructor(type: FailureType, details: string, init: FailureInit = {}) {
    // A failure is a verdict about a peer, not a bug: where in Candor it was built says
    // nothing (the cause keeps its own stack), and capturing the trace was the largest
    // single cost of an error response.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super(`${type}: ${details}`, init.cause === undefined ? undefined : { cause: init.cause });
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
    this.name = 'Failure';
    this.type = type;
    this.kind = kindOf(type, init.variant);
    this.status = init.status ?? this.kind.status;
    this.stage = init.stage ?? 'not_sent';
    this.details = details;
    this.params = init.params ?? {};
    this.retryAfter = init.retryAfter;
    this.unprocessed = init.unprocessed === true;
    this.sessionEnded = init.sessionEnded === true;
    // RFC 9110 §15.5.9: a 408 is the server that stopped waiting, not a fault in the request:
    // the client may send it again (its kind, the client's error, says no retry would help). So
    // may a 421's, on another connection (§15.5.20): its kind stays no retry for the table's
    // readers, the client library among them, which can see no type of it (Proxy-Status has none).
    this.clientMayRetry =
      init.final === true ? false : this.kind.clientMayRetry || this.status === 408 || this.status === 421;
    this.challenge = init.challenge;
    this.signInAgain = init.signInAgain;
    this.allow = init.allow;
    this.nextHop = init.nextHop;
    this.clientsTurn = init.clientsTurn === true;
    this.callsDeadline = init.callsDeadline === true;
    this.ownWaitSpent = init.ownWaitSpent === true;
    this.variant = init.variant;
    this.receivedStatus = init.receivedStatus;
  }

  /**
   * The short code for logs: the kind's, or its `finalFlag` for a refusal no retry turns around (an
   * access rule's), or PHF for a plugin's hop that failed after the route's upstream answered.
   */
  get flag(): string {
    // A hop's failure let out after the route's upstream answered (a plugin's fetch in onResponse):
    // its kind's flag (UF, the upstream's connection failed) beside the line's `upstream` blamed it.
    if (this.nextHop !== undefined && this.receivedStatus !== undefined) return PLUGIN_HOP_FAILED;
    const kind: FailureKind = this.kind;
    const final = !this.clientMayRetry && kind.clientMayRetry;
    return (final ? kind.finalFlag : undefined) ?? kind.flag;
  }

  get shape(): Shape {
    return this.kind.shape;
  }

  /**
   * The client's own doing (it left, its deadline passed, its turn to speak, its call's deadline
   * as told upstream passed mid-body): never judged against a target.
   */
  get clientsDoing(): boolean {
    return this.clientsTurn || this.callsDeadline || CLIENTS_DOING.has(this.type);
  }

  /**
   * Judges no target whatever its shape: the client's doing, another hop's failure (`nextHop`: a
   * plugin's fetch let out of onResponse, after the target answered; that hop's own attempts told
   * its health already), or a deadline the gateway's own waits spent (ownWaitSpent: its pool
   * queue, a stage's hold). Read by faultsTarget and by a canary's counts, which count the
   * gateway's refusals besides.
   */
  get judgesNoTarget(): boolean {
    return this.clientsDoing || this.nextHop !== undefined || this.ownWaitSpent || this.sessionEnded;
  }

  /** Says something of the target that failed: one of the four upstream shapes, judging a target (judgesNoTarget). */
  get faultsTarget(): boolean {
    return TARGET_FAULT_SHAPES.has(this.kind.shape) && !this.judgesNoTarget;
  }

  /**
   * The route's upstream answered (receivedStatus) and the gateway failed on that answer (a
   * plugin's onResponse threw, or let out its hop's failure): the attempt got its response, its
   * target blameless. An answer the target itself got wrong (a 206 whose Content-Range does not
   * fit: garbage, with the status it came with) is no response: the target's fault, counted as one.
   */
  get answeredFirst(): boolean {
    return this.receivedStatus !== undefined && !this.faultsTarget;
  }

  /** True when some of the request may have reached the upstream. */
  get reachedUpstream(): boolean {
    return this.stage !== 'not_sent';
  }

  /**
   * The same failure at `stage`: the upstream took nothing (still `unprocessed`, so the retry rule
   * asks nothing of the method), but part of a streamed request body went out with the attempt,
   * and what went cannot be sent again (the body is why it is not retried).
   */
  spent(stage: Stage): Failure {
    if (!this.unprocessed) return this.at(stage);
    return this.#copied(stage, this.receivedStatus, true);
  }

  /** The same failure, seen at a later stage (a connection error noticed after bytes were written). */
  at(stage: Stage): Failure {
    // RFC 9113 §8.7: a request the server says it never processed may be sent again, whatever
    // its method, however much of it had been written.
    if (stage === this.stage || this.unprocessed) return this;
    return this.#copied(stage, this.receivedStatus);
  }

  /**
   * The same failure at `head_received`, after the route's upstream answered with `status`: a
   * route stage failed on that answer (exchange.ts).
   */
  afterAnswer(status: number): Failure {
    return this.#copied('head_received', status);
  }

  /**
   * This failure's facts at `stage`, with `receivedStatus`; `unprocessed` only for spent() (at()
   * keeps an unprocessed one as it is).
   */
  #copied(stage: Stage, receivedStatus: number | undefined, unprocessed = false): Failure {
    return new Failure(this.type, this.details, {
      stage,
      status: this.status,
      params: this.params,
      retryAfter: this.retryAfter,
      cause: this.cause,
      final: !this.clientMayRetry && this.kind.clientMayRetry,
      ...(this.challenge === undefined ? {} : { challenge: this.challenge }),
      ...(this.signInAgain === undefined ? {} : { signInAgain: this.signInAgain }),
      ...(this.nextHop === undefined ? {} : { nextHop: this.nextHop }),
      clientsTurn: this.clientsTurn,
      callsDeadline: this.callsDeadline,
      ownWaitSpent: this.ownWaitSpent,
      ...(this.variant === undefined ? {} : { variant: this.variant }),
      ...(unprocessed ? { unprocessed, sessionEnded: this.sessionEnded } : {}),
      ...(receivedStatus === undefined ? {} : { receivedStatus }),
    });
  }
}

/**
 * What the log says of a response cut at its send deadline (`ms` of the config field `field`):
 * the client read nothing and the gateway cut it, never the client leaving. Made by whoever
 * hears the cut: the exchange still relaying, or the attempt loop or session when nobody did.
 */
export function sendTimeoutFailure(limit: { readonly ms: number; readonly field: string }): Failure {
  return new Failure(
    'http_request_error',
    `client took no response bytes for ${limit.ms} ms (${limit.field})`,
    { stage: 'body_streaming' },
  );
}

/**
 * What the log says of an answer the gateway dropped itself, with no client behind it (a
 * background refresh's answer it would not keep: AnswerSink.dropped), and `why`: the gateway's
 * decision, never a client leaving (a 499). `stage`: how far its attempt had got.
 */
export function droppedFailure(why: string, stage: Stage = 'body_streaming'): Failure {
  return new Failure('proxy_internal_response', `the gateway dropped its background ${why}`, { stage });
}

/**
 * What the log says of a request whose connection the gateway's drain closed: its own cut,
 * never the client leaving (a 499), and why: its deadline passed, or (`signalled`) a second
 * signal ended it at once. `stage`: how far its attempt had got, when it had one.
 */
/** Why a drain cut a connection: core/net's DrainCut, spelled here (a peer module, not imported). */
type DrainCut = 'deadline' | 'signal' | 'listener_deadline';

export function drainCutFailure(why: DrainCut, stage?: Stage): Failure {
  return new Failure('proxy_internal_response', DRAIN_CUT[why], stage === undefined ? undefined : { stage });
}

const DRAIN_CUT: Readonly<Record<DrainCut, string>> = {
  signal:
    'the gateway was shutting down and a second signal ended its drain at once: it closed the connection',
  deadline: 'the gateway was shutting down and its drain deadline passed: it closed the connection',
  listener_deadline:
    "a reload removed the connection's listener and the drain deadline passed: the gateway closed the connection",
};
