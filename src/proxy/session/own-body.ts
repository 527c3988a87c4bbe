/**
 * An answer the gateway makes itself (a redirect, a CORS preflight, an auth service's refusal
 * passed on, a static file): its head through the one head builder, then its body, a whole one
 * written at once, a streamed one (a static file: core/net/own-answer.ts's StreamedAnswer) as
 * the client takes it, with backpressure, so memory stays bounded whatever the file's size and
 * the client's pace.
 */
import type { Readable } from 'node:stream';
import { Failure } from '../../core/failure/failure.ts';
import { grpcStatusOfHttp, toldGrpcStatus } from '../../core/failure/grpc-answer.ts';
import { GRPC_CODES } from '../../core/failure/grpc-codes.ts';
import { REASONS } from '../../core/failure/wording.ts';
import type { AnswerSink } from '../../core/net/downstream.ts';
import { type OwnAnswer, StreamedAnswer } from '../../core/net/own-answer.ts';
import { ownAnswerHead, PassedOnAnswer } from '../decide/own-answer-head.ts';
import type { AttemptsOwner } from './attempts-owner.ts';
import type { SessionRequest } from './session-request.ts';

/** Sends `answer`, the gateway's own, unless the client is gone; a head the client cannot take is the gateway's error answer. */
export function sendOwnAnswer(req: SessionRequest, owner: AttemptsOwner, answer: OwnAnswer): void {
  const { answer: sink, record, exchange } = req;
  if (sink.closed) return;
  // An auth service's refusal, passed on as it wrote it (ownFields: and Proxy-Status; gRPC: by its status).
  if (answer instanceof PassedOnAnswer) {
    if (record.grpc) return owner.answer(answer.refusal);
    owner.failed(answer.refusal);
  }
  owner.responded(answer.status);
  // A body the client is still sending is not read: the connection closes after the answer.
  const close = !exchange.bodyComplete;
  const head = ownAnswerHead(answer, req.runtime, record.id, close, owner.answerEdit());
  try {
    sink.sendHead(answer.status, REASONS[answer.status] ?? '', head, close);
  } catch (err) {
    // A head the client cannot take (an HTTP/2 client's header list size): the gateway's answer says so.
    if (err instanceof Failure) return owner.answer(err);
    throw err;
  }
  // A gRPC client reads the answer by its HTTP status, as gRPC maps it (a redirect: UNKNOWN;
  // a 200 that is no gRPC answer: UNKNOWN too): the log and the metric say so, as for an upstream's.
  if (record.grpc) toldGrpcStatus(record, grpcStatusOfHttp(answer.status) ?? GRPC_CODES.UNKNOWN);
  writeOwnBody(answer, req, (cut) => owner.answer(cut));
}

/** What the session is told when a streamed body cannot be sent whole: it cuts the transfer (its head is out). */
export type CutBody = (failure: Failure) => void;

/**
 * Writes `answer`'s body after its head (none to a HEAD) and ends it, or cuts it (`cut`) when it
 * cannot be whole. (The log's `bytes_out` counts an upstream's body bytes: a streamed own answer's are not in it.)
 */
export function writeOwnBody(
  answer: OwnAnswer,
  req: Pick<SessionRequest, 'answer' | 'head'>,
  cut: CutBody,
): void {
  const { answer: sink } = req;
  const head = req.head.method === 'HEAD';
  if (!(answer instanceof StreamedAnswer)) {
    if (answer.body.length > 0 && !head) sink.write(answer.body);
    return sink.end();
  }
  const stream = answer.stream;
  if (stream === undefined || head || answer.length === 0 || sink.closed) {
    stream?.destroy();
    if (!sink.closed) sink.end();
    return;
  }
  new StreamedBody(answer, stream, sink, cut).start();
}

/**
 * One streamed body: each chunk is held until the next one comes, and the last is written only
 * once the stream ended with exactly the length the head told and the answer's `done` says the
 * source did not change under the read. A short, failed or changed read is cut: the client never
 * gets a body that passes for whole (its Content-Length is never met), and the log says
 * `http_response_incomplete`.
 */
class StreamedBody {
  readonly #answer: StreamedAnswer;
  readonly #stream: Readable;
  readonly #sink: AnswerSink;
  readonly #cut: CutBody;
  #sent = 0;
  #held: Buffer | undefined;
  #over = false;

  constructor(answer: StreamedAnswer, stream: Readable, sink: AnswerSink, cut: CutBody) {
    this.#answer = answer;
    this.#stream = stream;
    this.#sink = sink;
    this.#cut = cut;
  }

  start(): void {
    const stream = this.#stream;
    // The client left, or the transfer was cut: the read stops and its file closes.
    this.#sink.onClose(() => {
      this.#over = true;
      stream.destroy();
    });
    stream.on('data', (chunk: Buffer) => this.#data(chunk));
    stream.on('end', () => void this.#end());
    stream.on('error', (err: NodeJS.ErrnoException) =>
      this.#fail(`the file could not be read after ${this.#sent} bytes (${err.code ?? err.message})`, err),
    );
  }

  #data(chunk: Buffer): void {
    if (this.#over) return;
    const held = this.#held;
    this.#held = chunk;
    if (held === undefined) return;
    this.#sent += held.length;
    if (this.#sent + chunk.length > this.#answer.length)
      return this.#fail(`the file grew past the ${this.#answer.length} bytes told while it was read`);
    if (this.#sink.write(held)) return;
    this.#stream.pause();
    this.#sink.onDrain(() => {
      if (!this.#over) this.#stream.resume();
    });
  }

  async #end(): Promise<void> {
    if (this.#over) return;
    const last = this.#held?.length ?? 0;
    const read = this.#sent + last;
    if (read !== this.#answer.length)
      return this.#fail(
        `the file ended after ${read} of the ${this.#answer.length} bytes told (truncated while read)`,
      );
    let same: boolean;
    try {
      same = (await this.#answer.done?.()) ?? true;
    } catch (err) {
      return this.#fail('the file could not be checked after it was read', err);
    }
    if (this.#over) return;
    if (!same) return this.#fail('the file changed while it was read');
    this.#over = true;
    if (this.#held !== undefined) this.#sink.write(this.#held);
    this.#sink.end();
  }

  #fail(details: string, cause?: unknown): void {
    if (this.#over) return;
    this.#over = true;
    this.#stream.destroy();
    this.#cut(
      new Failure('http_response_incomplete', details, {
        stage: 'body_streaming',
        cause,
        variant: 'own_file_cut',
      }),
    );
  }
}
