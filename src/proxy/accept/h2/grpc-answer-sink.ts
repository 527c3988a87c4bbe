/**
 * A gateway-made gRPC answer (core/failure/grpc-answer.ts) written to a response sink: the
 * head and the end in one go, so the HTTP/2 sink sends it as gRPC's Trailers-Only, one
 * HEADERS frame with END_STREAM (h2-response.ts).
 */
import type { GrpcAnswer } from '../../../core/failure/grpc-answer.ts';
import type { ResponseSink } from '../../../core/net/downstream.ts';

export function sendGrpcAnswer(sink: ResponseSink, answer: GrpcAnswer): void {
  sink.sendHead(answer.status, 'OK', answer.headers);
  sink.end();
}
