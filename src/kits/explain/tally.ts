import { CLIENTS_DOING, FAILURES, type FailureType } from '../../core/failure/taxonomy.ts';
import { DurationHistogram } from './histogram.ts';
import {
  type ClientDeadlines,
  countGrpc,
  countProtocol,
  countWait,
  type GrpcTally,
  type PlaceTally,
  type ProtocolTally,
  type UpstreamTally,
} from './line-counts.ts';

export type { ClientDeadlines, GrpcTally, PlaceTally, ProtocolTally, UpstreamTally };

import type {
  ChangeLine,
  FailedAttempt,
  FiveXxSplit,
  HealthEvent,
  Producer,
  RequestLine,
} from './log-record.ts';
import { LIMIT_CASE } from './log-record.ts';
import { RefusalTally } from './refusal-tally.ts';
import { StormCounter } from './storm-counter.ts';

/** How many health events a report keeps (in time order); the rest are counted only. */
export const HEALTH_EVENTS_KEPT = 1000;
/** Changes kept from the logs' event lines (a storm is placed against them); the rest are counted. */
export const CHANGES_KEPT = 100_000;

/** Where records without an upstream are counted. */
const NO_UPSTREAM = '-';

interface TypeTally {
  /** Requests this failure answered. */
  requests: number;
  /** Failed attempts with no request of their own in the logs (retried, or only in an error log). */
  attempts: number;
  readonly statuses: Map<number, number>;
  /** gRPC statuses the clients read for it (the gateway's Trailers-Only answers). */
  readonly grpcStatuses: Map<number, number>;
  readonly upstreams: Map<string, number>;
  /** Its cases by who made the answer (caseOf): each one's count and places. */
  readonly cases: Map<string, CaseTally>;
}

/** One case of a type (caseOf): how many, and where. */
export interface CaseTally {
  count: number;
  readonly places: Map<string, number>;
}

/**
 * The case of a line's failure: its variant (the case's own words: variants.ts), else who made
 * the answer when no upstream did (log-record.ts Maker), else '' (an upstream's, or a log that
 * does not say: the failure table's words).
 */
export const caseOf = (line: Pick<RequestLine, 'variant' | 'maker' | 'limit'>): string =>
  line.variant ?? (line.limit ? LIMIT_CASE : undefined) ?? line.maker ?? '';

const place = (): PlaceTally => ({
  requests: 0,
  errors5xx: 0,
  failures: 0,
  first5xx: Number.POSITIVE_INFINITY,
  last5xx: Number.NEGATIVE_INFINITY,
  types: new Map(),
});

const bump = <K>(map: Map<K, number>, key: K, by = 1) => map.set(key, (map.get(key) ?? 0) + by);

/**
 * Who produced a 5xx: the proxy when a failure is named (or the line says so), but for a
 * failure after the upstream's head went out (`failedAfterHead`: the status is the upstream's,
 * its body cut, whatever file was read); the upstream when the line says so and the causes' file was read (no failure
 * line claimed it); else unknown.
 */
function producerOf(line: RequestLine, causeKnown: boolean): Producer | undefined {
  if (line.failedAfterHead) return 'upstream';
  if (line.failure !== undefined || line.producedBy === 'proxy') return 'proxy';
  return line.producedBy === 'upstream' && causeKnown ? 'upstream' : undefined;
}

/**
 * The client's own doing: a request refused as it was sent (a slow reader cut at send_timeout
 * included), a client that left, a deadline it chose, a stored answer it asked for alone
 * (only-if-cached: the 504 of a miss, the upstream not contacted). It says nothing of the
 * upstream or the target its line names, and the gateway judges neither by it: no failure of theirs.
 */
export function isClientsDoing(type: FailureType): boolean {
  return CLIENTS_DOING.has(type) || type === 'only_if_cached' || FAILURES[type].shape === 'client';
}

/**
 * A failure that is no failure of the upstream its line names: the client's own doing, the
 * gateway's judgement of the client (an authentication, access or rate-limit refusal: 401, 403,
 * 429), or the proxy's own machine out of ports, files or socket memory (the target was never
 * asked), each before any target was. Counted in its shape's row; never against the upstream.
 */
export function saysNothingOfUpstream(type: FailureType): boolean {
  return isClientsDoing(type) || type === 'http_request_denied' || type === 'proxy_resources_exhausted';
}

/** Every count the report is made of, filled one record at a time. */
export class Tally {
  requests = 0;
  attempts = 0;
  /** 5xx the upstream sent itself, passed through. */
  upstreamOwn5xx = 0;
  /**
   * Stored answers that went to the client in place of a failure, by what they stood in for
   * (Candor's `stale_cause`): the failure's type, or `upstream_503` for the upstream's own 5xx.
   */
  readonly staleAnswers = new Map<string, number>();
  /** The upstream's own 5xx no client saw: a stored answer went instead (counted in staleAnswers too). */
  upstreamOwn5xxStale = 0;
  /** 5xx a plugin answered itself (Candor's `answered_by`), by plugin: no failure, and no upstream's. */
  readonly pluginOwn5xx = new Map<string, number>();
  /** 5xx with no failure whose maker the logs do not tell (or the proxy's, with no cause given). */
  unexplained5xx = 0;
  /** Requests whose line names an error type this version does not know, by that name. */
  readonly unknownTypes = new Map<string, number>();
  /** Who produced the 5xx, over every file. */
  readonly errors5xx: FiveXxSplit = { byProxy: 0, passedThrough: 0, cannotTell: 0 };
  /** Retried attempts whose failure the log does not name (see RequestLine.untypedRetries). */
  untypedRetries = 0;
  clientAborted = 0;
  /** Of clientAborted, those that left while the answer's body streamed, its head sent. */
  clientAbortedMidAnswer = 0;
  /** Error-log lines that met their request (the rest are failed attempts of their own). */
  joinedAttempts = 0;
  readonly byStatus = new Map<number, number>();
  readonly byType = new Map<FailureType, TypeTally>();
  readonly byUpstream = new Map<string, UpstreamTally>();
  readonly byTarget = new Map<string, PlaceTally>();
  /** Requests by the protocol their line names (lines that name none are not here). */
  readonly byProtocol = new Map<string, ProtocolTally>();
  /** gRPC requests by the status their client read. */
  readonly byGrpcStatus = new Map<number, GrpcTally>();
  /** 401s and 403s by route and method. */
  readonly refusals = new RefusalTally();
  readonly storms: StormCounter;
  /** The first HEALTH_EVENTS_KEPT health events, in time order; `healthEvents` counts them all. */
  readonly health: HealthEvent[] = [];
  healthEvents = 0;
  /** The first CHANGES_KEPT changes the logs recorded (Candor's event lines), in time order; `changeLines` counts them all. */
  readonly changes: ChangeLine[] = [];
  changeLines = 0;

  /** Requests read from a line without a time (LogRecord.time NaN): in no storm. */
  untimed = 0;

  constructor(bucketMs?: number) {
    this.storms = new StormCounter(bucketMs);
  }

  /**
   * One finished request. `causeKnown`: the file with this format's causes was read too, so a
   * line's word that the upstream produced its 5xx stands (no failure line claimed it). `file`
   * is the split of the file it came from.
   */
  addRequest(line: RequestLine, causeKnown: boolean, file?: FiveXxSplit): void {
    this.requests++;
    bump(this.byStatus, line.status);
    const failure = line.failure;
    const is5xx = line.status >= 500;
    const producer = is5xx ? producerOf(line, causeKnown) : undefined;
    this.#countCause(line, producer, file);
    this.#countRetries(line);
    if (line.clientAborted) {
      this.clientAborted++;
      if (line.clientLeftMidAnswer) this.clientAbortedMidAnswer++;
    }
    this.refusals.add(line);
    if (line.staleCause !== undefined) {
      bump(this.staleAnswers, line.staleCause);
      if (failure === undefined) this.upstreamOwn5xxStale++;
    }
    if (line.protocol !== undefined)
      countProtocol(this.byProtocol, line.protocol, is5xx, failure !== undefined);
    if (line.grpc !== undefined) countGrpc(this.byGrpcStatus, line.grpc);

    const key = line.upstream ?? NO_UPSTREAM;
    const upstream = this.#countPlaces(line, key, is5xx);
    countWait(upstream, line);
    // A line without a time is counted, but has no place on the timeline the storms are found on.
    if (Number.isNaN(line.time)) {
      this.untimed++;
      return;
    }
    // A 5xx of the client's own doing (its own deadline: client_deadline's 504) is no storm of
    // the upstream's, as it is no failure of its in the tables: it counts as a request only.
    this.storms.add(
      key,
      line.time,
      is5xx && (failure === undefined || !isClientsDoing(failure)),
      failure ??
        line.unknownFailure ??
        (line.answeredBy !== undefined && is5xx
          ? `${line.answeredBy}'s own ${line.status}`
          : producer === 'upstream'
            ? `upstream's own ${line.status}`
            : is5xx
              ? `${line.status}, cause unknown`
              : undefined),
    );
  }

  /** The line's failure by type, or the 5xx it explains none of; and who produced a 5xx. */
  #countCause(line: RequestLine, producer: Producer | undefined, file: FiveXxSplit | undefined): void {
    const failure = line.failure;
    const is5xx = line.status >= 500;
    if (failure !== undefined) {
      const type = this.#type(failure, line.upstream, caseOf(line));
      type.requests++;
      bump(type.statuses, line.status);
      if (line.grpc?.producedBy === 'proxy') bump(type.grpcStatuses, line.grpc.status);
    } else if (line.unknownFailure !== undefined) bump(this.unknownTypes, line.unknownFailure);
    else if (line.answeredBy !== undefined && is5xx) bump(this.pluginOwn5xx, line.answeredBy);
    else if (producer === 'upstream') this.upstreamOwn5xx++;
    else if (is5xx) this.unexplained5xx++;
    if (is5xx) {
      const key = producer === 'proxy' ? 'byProxy' : producer === 'upstream' ? 'passedThrough' : 'cannotTell';
      this.errors5xx[key]++;
      if (file) file[key]++;
    }
  }

  /** The attempts the line says were retried, by their failure where it names one. */
  #countRetries(line: RequestLine): void {
    for (const [i, retried] of (line.retried ?? []).entries()) {
      this.#type(retried, line.upstream).attempts++;
      this.attempts++;
      // Counted against the target it was sent to, as an error log's attempt is: a target every
      // retry went around (a dead one beside a good one) ended no request, and showed nowhere.
      const target = line.retriedTargets?.[i];
      if (target === undefined || saysNothingOfUpstream(retried)) continue;
      const place = this.#target(target);
      place.failures++;
      bump(place.types, retried);
      if (!Number.isNaN(line.time)) this.#mark(place, line.time);
    }
    // A retried auth call's or plugin fetch's: counted at its hop and target, not at the route's
    // upstream, which saw none of them (the metrics count them at the service's upstream).
    for (const { hop, target, failure, count } of line.hopRetried ?? []) {
      // An auth call's is the auth hop's case, as the line's own failure of it is (caseOf).
      this.#type(failure, hop, hop.startsWith('auth:') ? 'auth-hop' : '', count).attempts += count;
      this.attempts += count;
      if (target === undefined || saysNothingOfUpstream(failure)) continue;
      const place = this.#target(target);
      place.failures += count;
      bump(place.types, failure);
      if (!Number.isNaN(line.time)) this.#mark(place, line.time);
    }
    for (const [type, count] of line.retriedOmitted ?? []) {
      this.#type(type, line.upstream, '', count).attempts += count;
      this.attempts += count;
    }
    if (line.untypedRetries) {
      this.untypedRetries += line.untypedRetries;
      this.attempts += line.untypedRetries;
    }
  }

  /** The request against its upstream and its target; the upstream's tally, for its waits. */
  #countPlaces(line: RequestLine, key: string, is5xx: boolean): UpstreamTally {
    const failure = line.failure;
    const upstream = this.#upstream(key);
    const places: PlaceTally[] =
      line.target === undefined ? [upstream] : [upstream, this.#target(line.target)];
    const placeFailure = failure !== undefined && !saysNothingOfUpstream(failure) ? failure : undefined;
    for (const p of places) {
      p.requests++;
      // The gateway's answer after the target's last try (a hold run out) is no 5xx or failure of that target.
      if (p !== upstream && line.failureNotAtTarget) continue;
      if (is5xx) p.errors5xx++;
      if (placeFailure !== undefined) {
        p.failures++;
        bump(p.types, placeFailure);
      }
      if ((is5xx || placeFailure !== undefined) && !Number.isNaN(line.time)) this.#mark(p, line.time);
    }
    return upstream;
  }

  /** A failed attempt no request line claimed. */
  addAttempt(attempt: FailedAttempt): void {
    this.attempts++;
    this.#type(attempt.failure, attempt.upstream).attempts++;
    const key = attempt.upstream ?? NO_UPSTREAM;
    const places: PlaceTally[] = [this.#upstream(key)];
    if (attempt.target !== undefined) places.push(this.#target(attempt.target));
    // The proxy's own ports or files ran out: the upstream was not asked, as for a request's line.
    if (!saysNothingOfUpstream(attempt.failure))
      for (const p of places) {
        p.failures++;
        bump(p.types, attempt.failure);
        this.#mark(p, attempt.time);
      }
    this.storms.add(key, attempt.time, true, attempt.failure, false);
  }

  /** A server or backend changed health (a proxy's own log line, not a request). */
  addChange(change: ChangeLine): void {
    this.changeLines++;
    if (this.changes.length < CHANGES_KEPT) this.changes.push(change);
  }

  addHealth(event: HealthEvent): void {
    this.healthEvents++;
    if (this.health.length < HEALTH_EVENTS_KEPT) this.health.push(event);
  }

  #mark(p: PlaceTally, time: number): void {
    if (time < p.first5xx) p.first5xx = time;
    if (time > p.last5xx) p.last5xx = time;
  }

  #type(type: FailureType, upstream: string | undefined, kase = '', by = 1): TypeTally {
    let tally = this.byType.get(type);
    if (tally === undefined) {
      tally = {
        requests: 0,
        attempts: 0,
        statuses: new Map(),
        grpcStatuses: new Map(),
        upstreams: new Map(),
        cases: new Map(),
      };
      this.byType.set(type, tally);
    }
    bump(tally.upstreams, upstream ?? NO_UPSTREAM);
    let counted = tally.cases.get(kase);
    if (counted === undefined) {
      counted = { count: 0, places: new Map() };
      tally.cases.set(kase, counted);
    }
    counted.count += by;
    bump(counted.places, upstream ?? NO_UPSTREAM);
    return tally;
  }

  #upstream(key: string): UpstreamTally {
    let tally = this.byUpstream.get(key);
    if (tally === undefined) {
      tally = {
        ...place(),
        answered: new DurationHistogram(),
        timedOut: new DurationHistogram(),
        timeoutsUnmeasured: 0,
        clientDeadlines: {
          count: 0,
          minMs: Number.POSITIVE_INFINITY,
          maxMs: 0,
          notSent: 0,
          head: 0,
          body: 0,
        },
      };
      this.byUpstream.set(key, tally);
    }
    return tally;
  }

  #target(key: string): PlaceTally {
    let tally = this.byTarget.get(key);
    if (tally === undefined) {
      tally = place();
      this.byTarget.set(key, tally);
    }
    return tally;
  }
}
