/**
 * A gRPC call's answer as an exchange passes it on: the gRPC status its client reads of it (for
 * the log and the metric: the upstream's word, not the gateway's), and how a cut after the head
 * ends (grpc-cut.ts). Made only for a gRPC call's answer (the record says gRPC): a plain request
 * pays nothing for it.
 */
import { ms } from '../../core/failure/classify.ts';
import { Failure } from '../../core/failure/failure.ts';
import {
  grpcCutTrailers,
  grpcStatusOf,
  grpcStatusOfHttp,
  toldGrpcStatus,
} from '../../core/failure/grpc-answer.ts';
import { GRPC_CODES } from '../../core/failure/grpc-codes.ts';
import { parseContentLength } from '../../core/http1/answer-rules.ts';
import { type AnswerSink, firstField } from '../../core/net/downstream.ts';
import type { RequestRecord } from '../../observe/log/request-record.ts';
import type { AnswerRelay, AnswerRelays, CutBy } from './answer-relay.ts';
import { GrpcMessageBounds, isGrpcAnswer } from './grpc-cut.ts';

/** A gRPC call's answers, read as they pass (ExchangeOptions.relays for a gRPC call). */
export const GRPC_RELAYS: AnswerRelays = {
  relay: (status, headers, record) => new GrpcRelay(status, headers, record),
};

/**
 * The client left a gRPC call before its answer ended (its stream reset, its connection closed):
 * it read no status of the upstream's, which the record held from the head (a grpc-status in a
 * head followed by a body, which no client reads; a 503's mapped UNAVAILABLE), so the log and
 * candor_grpc_responses_total say none, as for a call it left before the head. The relay is the
 * one writer of the record's upstream status.
 */
export function upstreamStatusUnread(record: RequestRecord): void {
  record.upstreamGrpcStatus = undefined;
}

export class GrpcRelay implements AnswerRelay {
  /** The answer's HTTP status as gRPC maps it (undefined: a 200 gRPC answer, read by its grpc-status). */
  readonly #byHttp: number | undefined;
  /** The answer is a gRPC one: a 200 whose body is length-prefixed messages. */
  readonly #messages: boolean;
  /** Its messages as they go to the client, from the head's sending on: a cut at a boundary can end with its status. */
  #bounds: GrpcMessageBounds | undefined;
  /** The body's length its head announced (Content-Length), which the client holds the stream to; -1 when none. */
  readonly #announced: number;
  /** The body's bytes sent to the client so far. */
  #sent = 0;

  /**
   * A gRPC upstream's Trailers-Only answer has its status in the head; an answer that is not a
   * 200 and has none is read by the client by its HTTP status, as gRPC maps it, and so is a 200
   * that is no gRPC answer (a JSON API's): UNKNOWN (http-grpc-status-mapping.md).
   */
  constructor(status: number, headers: readonly string[], record: RequestRecord) {
    this.#messages = isGrpcAnswer(status, headers);
    this.#announced = this.#messages ? announcedLength(headers) : -1;
    this.#byHttp =
      grpcStatusOfHttp(status) ?? (status === 200 && !this.#messages ? GRPC_CODES.UNKNOWN : undefined);
    record.upstreamGrpcStatus = grpcStatusIn(headers) ?? this.#byHttp;
  }

  /**
   * A Trailers-Only head whose grpc-status comes twice: node:http2 would join the lines ("5, 5"),
   * which grpc-js reads as no code, while the log said the first. Alike, they go once; not alike,
   * garbage from the upstream, as such trailers are (endedAmiss), refused before anything went.
   */
  wholeHead(head: string[]): Failure | undefined {
    const conflict = conflictingStatus(head, undefined);
    if (conflict === undefined) dropRepeatedStatus(head);
    return conflict;
  }

  /** The head went downstream: the body's messages are counted from here. */
  headSent(): void {
    if (this.#messages) this.#bounds = new GrpcMessageBounds();
  }

  feed(chunk: Buffer): void {
    this.#bounds?.feed(chunk);
    this.#sent += chunk.length;
  }

  /**
   * The answer ended whole with these trailers (`kept`: those that reach the client): the record
   * takes the status its client reads of it. `headPending`: the head has not left yet, so with
   * nothing of a body sent it leaves with the end as one HEADERS frame (Trailers-Only).
   */
  ended(
    trailers: string[] | undefined,
    kept: string[] | undefined,
    headPending: boolean,
    record: RequestRecord,
  ): void {
    // The same status said twice reaches the client once: node:http2 would join them ("0, 0"),
    // which grpc-js reads as no status (UNKNOWN). Disagreeing ones are endedAmiss's.
    if (kept !== undefined) dropRepeatedStatus(kept);
    record.upstreamGrpcStatus = this.#endedStatus(
      trailers,
      kept,
      record.bytesOut === 0 && headPending,
      record.upstreamGrpcStatus,
    );
  }

  /**
   * A gRPC answer: its trailers' status; its head's only in a Trailers-Only answer (`headOnly`),
   * gRPC's libraries reading a status in a head followed by a body nowhere. None there: ended by a
   * HEADERS frame (trailers, or Trailers-Only), UNKNOWN, what gRPC maps a 200 to; ended by a DATA
   * frame (its body, or an empty one after its head), INTERNAL ("ended without gRPC status").
   *
   * An answer that is no gRPC one (not a 200, or a 200 of another type): its trailers'; its head's
   * only in a Trailers-Only answer; else the HTTP status as gRPC maps it (grpc-js; grpc-go reads
   * that mapping of any non-200).
   */
  #endedStatus(
    trailers: string[] | undefined,
    kept: string[] | undefined,
    headOnly: boolean,
    inHead: number | undefined,
  ): number | undefined {
    const inTrailers = trailers === undefined ? undefined : grpcStatusIn(trailers);
    if (inTrailers !== undefined) return inTrailers;
    if (this.#bounds === undefined) return headOnly ? inHead : (this.#byHttp ?? inHead);
    if (kept !== undefined && kept.length > 0) return GRPC_CODES.UNKNOWN;
    if (headOnly) return inHead ?? GRPC_CODES.UNKNOWN;
    return GRPC_CODES.INTERNAL;
  }

  /**
   * The upstream ended its answer properly, but in a way its client cannot read as it came; the
   * answer is then cut, as one that failed after its head, whatever its trailers said (DESIGN's
   * rule: never finished as if whole), and the failure says why:
   * - Inside a message: the client's gRPC library reads a message cut short (grpc-go: INTERNAL,
   *   "unexpected EOF"; grpc-js drops it, a unary call reading UNIMPLEMENTED, a streaming one the
   *   trailers' OK) while the log would say the upstream's status. endCut resets it: INTERNAL.
   *   `http_response_incomplete`: the body its content type frames is short (RFC 9209).
   * - Trailers whose `grpc-status` lines disagree (`0` and `13`): which one a client reads is its
   *   library's guess (grpc-go the last, grpc-js neither: UNKNOWN; the log would say the first).
   *   Garbage from the upstream, `http_protocol_error`, as conflicting Content-Lengths are; at a
   *   message boundary endCut ends the stream with the gateway's own status (UNAVAILABLE).
   */
  endedAmiss(trailers: string[] | undefined, elapsedMs: number): Failure | undefined {
    const where = this.#bounds?.inside;
    if (where === undefined) return conflictingStatus(trailers, elapsedMs);
    const status = trailers === undefined ? undefined : firstField(trailers, 'grpc-status');
    const how =
      trailers === undefined
        ? 'at the end of its body, without trailers'
        : status === undefined
          ? 'with trailers without grpc-status'
          : `with trailers saying grpc-status ${shownCode(status)}`;
    return new Failure(
      'http_response_incomplete',
      `response body cut short: the upstream ended the answer inside ${where}, ${how}, after ${ms(elapsedMs)}`,
      { stage: 'body_streaming' },
    );
  }

  /**
   * A gRPC answer cut after its head, at a message boundary, ends with the failure's grpc-status
   * in its trailers, which a gRPC client reads as plainly as a reset, and which says how it
   * failed (grpc-cut.ts); true when it did. Inside a message, or with a rest still held past the
   * sink (`asSent` false: a spool's, a compressor's), it is reset, and the client reads
   * INTERNAL: the log says what the client read. So is one short of the Content-Length its head
   * announced: trailers would end the stream short of it, which the client's HTTP/2 layer refuses
   * as malformed (RFC 9113 §8.1.1), resetting it unread. Its trailers carry the gateway's Proxy-Status (`by`).
   */
  endCut(failure: Failure, record: RequestRecord, sink: AnswerSink, asSent: boolean, by: CutBy): boolean {
    if (this.#bounds === undefined || sink.closed) return false;
    const short = this.#announced >= 0 && this.#sent < this.#announced;
    if (!this.#bounds.atBoundary || !asSent || short) {
      toldGrpcStatus(record, GRPC_CODES.INTERNAL);
      return false;
    }
    toldGrpcStatus(record, grpcStatusOf(failure));
    const { proxyName, nextHop } = by;
    sink.end(
      grpcCutTrailers(failure, { proxyName, requestId: record.id, nextHop, minimal: nextHop === undefined }),
    );
    return true;
  }

  /**
   * A gRPC call's response that stalled (timeouts.read, or the total deadline) after the upstream
   * had answered the client's last message, with the client's side still open (`clientsTurn`): in
   * a bidirectional conversation the upstream waits for the client's next message, so its silence
   * says nothing of the target (a chat left idle would otherwise eject a healthy one). Still cut,
   * and told so.
   */
  stalled(failure: Failure, clientsTurn: boolean): Failure {
    if (failure.type !== 'connection_read_timeout' || !clientsTurn) return failure;
    return new Failure(
      failure.type,
      `${failure.details}; the upstream had answered the client's last message, and the client had not ended its side (its turn to speak)`,
      { stage: failure.stage, cause: failure.cause, clientsTurn: true },
    );
  }
}

/**
 * The gRPC status a client reads from the `grpc-status` among flat fields, when one is there: a
 * value that is none of gRPC's 17 codes ("17", "-1", "abc") is read as UNKNOWN, as gRPC's
 * libraries read it, so an upstream cannot widen the log's and the metric's values past them.
 */
function grpcStatusIn(fields: readonly string[]): number | undefined {
  for (let i = 0; i < fields.length; i += 2)
    if (fields[i].length === 11 && fields[i].toLowerCase() === 'grpc-status') {
      const value = fields[i + 1];
      const code = Number(value);
      return /^[0-9]{1,3}$/.test(value) && code <= GRPC_CODES.UNAUTHENTICATED ? code : GRPC_CODES.UNKNOWN;
    }
  return undefined;
}

/** A grpc-status value as the log shows it: a code of 1 to 3 digits; the upstream's other words stay out. */
function shownCode(value: string): string {
  return /^[0-9]{1,3}$/.test(value) ? value : '(no code)';
}

/** Trailers whose grpc-status lines disagree: the failure that tells it; undefined when they agree (or are one). */
function conflictingStatus(
  trailers: string[] | undefined,
  elapsedMs: number | undefined,
): Failure | undefined {
  if (trailers === undefined) return undefined;
  const said: string[] = [];
  for (let i = 0; i < trailers.length; i += 2)
    if (trailers[i].length === 11 && trailers[i].toLowerCase() === 'grpc-status') said.push(trailers[i + 1]);
  if (said.every((value) => value === said[0])) return undefined;
  // Undefined `elapsedMs`: a Trailers-Only head, refused before anything went downstream.
  const where = elapsedMs === undefined ? 'Trailers-Only head' : 'trailers';
  const after = elapsedMs === undefined ? '' : `, after ${ms(elapsedMs)}`;
  return new Failure(
    'http_protocol_error',
    `the upstream's ${where} say grpc-status ${said.length} times, not alike (${said.map(shownCode).join(', ')}): its client would read one of them or none${after}`,
    { stage: elapsedMs === undefined ? 'head_received' : 'body_streaming' },
  );
}

/** Removes from flat fields every grpc-status line after the first (those left agree with it). */
function dropRepeatedStatus(fields: string[]): void {
  let seen = false;
  for (let i = 0; i < fields.length; ) {
    if (fields[i].length === 11 && fields[i].toLowerCase() === 'grpc-status') {
      if (seen) {
        fields.splice(i, 2);
        continue;
      }
      seen = true;
    }
    i += 2;
  }
}

/** The Content-Length among flat fields (one canonical value, as the head builder leaves it), or -1. */
function announcedLength(fields: readonly string[]): number {
  const length = firstField(fields, 'content-length');
  return length === undefined ? -1 : parseContentLength(length);
}
