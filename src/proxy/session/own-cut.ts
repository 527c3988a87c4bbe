/**
 * A response its downstream sink cut after its head, with nobody relaying to hear it: the
 * gateway's own cut, which the log names, never the client's leaving (a 499).
 */
import { drainCutFailure, droppedFailure, Failure, sendTimeoutFailure } from '../../core/failure/failure.ts';
import { toldGrpcStatus } from '../../core/failure/grpc-answer.ts';
import { GRPC_CODES } from '../../core/failure/grpc-codes.ts';
import type { AnswerSink } from '../../core/net/downstream.ts';
import type { RequestRecord } from '../../observe/log/request-record.ts';

/**
 * The failure a response closed unfinished was cut for by its sink: its send deadline (a client
 * that read nothing; the attempt loop tells it when an exchange still runs), or, over HTTP/2, a
 * trailer section larger than the client takes, or a request body short of its content-length
 * (nghttp2 reset the stream). Undefined: the sink cut nothing itself.
 */
export function ownCutOf(record: RequestRecord, answer: AnswerSink, finished: boolean): Failure | undefined {
  if (finished || record.upgraded) return undefined;
  // Nobody behind it: the gateway dropped the answer itself (a refresh's it would not keep).
  if (answer.dropped !== undefined)
    return droppedFailure(answer.dropped, answer.headSent ? 'body_streaming' : 'head_received');
  const malformed = answer.malformedBody;
  // Nothing could answer it (nghttp2 reset the stream): the client's malformed request, as
  // when the body's own reader tells it first, not its leaving (a 499).
  if (malformed !== undefined) return malformedBodyFailure(malformed, 'not_sent');
  if (answer.cutBySend !== undefined) {
    // The stream was reset CANCEL, which a gRPC client reads as CANCELLED (PROTOCOL-HTTP2.md,
    // "Errors"): not the upstream's status, in trailers the client never took.
    if (record.grpc) toldGrpcStatus(record, GRPC_CODES.CANCELLED);
    return sendTimeoutFailure(answer.cutBySend);
  }
  const refused = answer.refusedTrailers;
  if (refused === undefined) return undefined;
  // The client read a reset, INTERNAL to a gRPC client: the upstream's status, in the trailers
  // it refused, never reached it (the gateway's status is the one the log and metrics read).
  if (record.grpc) toldGrpcStatus(record, GRPC_CODES.INTERNAL);
  return new Failure('client_header_list_size', refused, { stage: 'body_streaming' });
}

/** A request body nghttp2 reset as malformed (its `malformedBody` words): a 400 nothing could answer. */
function malformedBodyFailure(malformed: string, stage: Failure['stage']): Failure {
  return new Failure('http_request_error', `request body could not be read (${malformed})`, {
    status: 400,
    stage,
  });
}

/**
 * The client's malformed request was refused by a reset before any head reached it (HTTP/2: a
 * body short of its content-length, a trailer section HTTP/2 forbids): the 400 made for it never
 * left, and the log's status is what the client got, none.
 */
export function answerNeverLeft(record: RequestRecord, answer: AnswerSink, finished: boolean): boolean {
  return !finished && !answer.headSent && record.failure?.type === 'http_request_error';
}

/**
 * The gateway's own cut of a response whose attempt still ran, for that attempt's try, never
 * the client leaving: an answer it dropped (a background refresh's it would not keep), its drain deadline (at the stage the attempt had reached: `gone`'s, or its
 * body's once its exchange was over), or the send deadline of a client that read nothing, with
 * no exchange watching to hear it (over, or never held up). Undefined: the client left.
 */
export function attemptCutOf(
  answer: AnswerSink,
  record: RequestRecord,
  gone: Failure | undefined,
): Failure | undefined {
  if (answer.cutByDrain !== undefined)
    return drainCutFailure(answer.cutByDrain, gone?.stage ?? 'body_streaming');
  if (answer.dropped !== undefined) return droppedFailure(answer.dropped, gone?.stage);
  // nghttp2 reset a streamed body short of its content-length before the body's reader heard of
  // it (its head, DATA and END_STREAM in one read, the upstream already asked): the client's
  // malformed request, not its leaving, which the attempt's abandon would say.
  if (answer.malformedBody !== undefined && record.failure === undefined)
    return malformedBodyFailure(answer.malformedBody, gone?.stage ?? 'not_sent');
  if (record.failure === undefined && answer.cutBySend !== undefined)
    return sendTimeoutFailure(answer.cutBySend);
  return undefined;
}
