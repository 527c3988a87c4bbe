/** What an HTTP/2 response sink (h2-answer.ts: R) reports to its connection's guard (h2-guard.ts). */
export interface H2AnswerOwner<R> {
  /** The stream has closed, however it ended: called before anyone hears how. */
  streamClosed(answer: R): void;
  /**
   * The client reset the stream before its answer was complete: whether its head was sent, and
   * when the stream was admitted (the rapid-reset bound counts only young unanswered streams).
   */
  clientReset(headSent: boolean, admittedAt: number): void;
  /** The answer could not move for the send deadline; the stream was reset with CANCEL. */
  sendTimeout(streamId: number): void;
  /** The largest header list the client takes (its SETTINGS_MAX_HEADER_LIST_SIZE; Infinity: it set none). */
  readonly clientHeaderListSize: number;
  /**
   * The words of a stream's end when the gateway closed its connection for a bound its client
   * passed (`error`: what the stream was destroyed with); undefined: it did not.
   */
  closedFor(error: unknown): string | undefined;
  /** The client's connection is still open both ways (it neither ended nor dropped it). */
  readonly connectionUp: boolean;
}

/** What a request body (h2-body.ts) asks of its connection's guard: whose leaving cut it. */
export type H2BodyOwner = Pick<H2AnswerOwner<unknown>, 'connectionUp' | 'closedFor'>;
