/**
 * The one door between the exchange and a protocol carried over HTTP whose answers the gateway
 * reads as they pass (gRPC: grpc-relay.ts): the status its client reads of an answer's end (for
 * the log), how a cut after the head ends, how a stall reads. The exchange knows this interface,
 * never the protocol: a request that speaks none (every plain one) has no relay, and pays nothing.
 */
import type { Failure } from '../../core/failure/failure.ts';
import type { AnswerSink } from '../../core/net/downstream.ts';
import type { RequestRecord } from '../../observe/log/request-record.ts';

/**
 * Who names a failure the gateway ends an answer with: this gateway (Proxy-Status's member) and
 * the next hop (undefined: errors.detail minimal, so no details and no next hop either).
 */
export interface CutBy {
  readonly proxyName: string;
  readonly nextHop: string | undefined;
}

/** What reads the answers of one protocol (ExchangeOptions.relays). */
export interface AnswerRelays {
  /** The upstream's answer's head came (before any route stage met it): its relay. */
  relay(status: number, headers: readonly string[], record: RequestRecord): AnswerRelay;
}

/** One answer as the protocol reads it on its way to the client. */
export interface AnswerRelay {
  /**
   * A head that is the whole answer (no body follows: gRPC's Trailers-Only), before it goes
   * downstream (`head`, the fields the client gets, edited in place): the failure it is when the
   * client could not read it as it came, else undefined.
   */
  wholeHead(head: string[]): Failure | undefined;
  /** The head went downstream: the body is read from here. */
  headSent(): void;
  /** A piece of the body on its way to the client. */
  feed(chunk: Buffer): void;
  /**
   * The answer ended whole with these trailers (`kept`: those that reach the client). `headPending`:
   * the head has not left yet (it leaves with the end).
   */
  ended(
    trailers: string[] | undefined,
    kept: string[] | undefined,
    headPending: boolean,
    record: RequestRecord,
  ): void;
  /**
   * The upstream ended the answer properly (its trailers, or its body's end: `trailers` undefined),
   * but in a way its client cannot read as it came (inside a gRPC message, trailers whose
   * grpc-status lines disagree): the failure to tell, and the answer is cut as one that failed
   * after its head; undefined when it ended whole.
   * `elapsedMs`: the request's time so far, for the details.
   */
  endedAmiss(trailers: string[] | undefined, elapsedMs: number): Failure | undefined;
  /**
   * The answer is cut after its head: true when the relay ended it itself (with the protocol's
   * word for the failure), false when the sink is to abort it. `asSent`: the client's bytes are
   * the upstream's as they came (no overflow, no recoding); `by`: who names the failure.
   */
  endCut(failure: Failure, record: RequestRecord, sink: AnswerSink, asSent: boolean, by: CutBy): boolean;
  /**
   * The failure a stall after the head is told as (the upstream went silent): `clientsTurn` when
   * the upstream had answered the client's last message and the client had not ended its side.
   */
  stalled(failure: Failure, clientsTurn: boolean): Failure;
}
