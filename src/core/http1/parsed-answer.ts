/**
 * What the strict response parser (answer-parser.ts) hands over: the head it parsed, how its
 * body is framed, the handler that takes head, body and trailers, and how a connection's end
 * left the response. Apart from the parser so that what reads a head (the upstream connection,
 * `candor diagnose`) does not import the parser's loop.
 */
import type { DecodableCoding } from './answer-rules.ts';

export type Framing = 'none' | 'length' | 'chunked' | 'close';

export interface AnswerHead {
  /** 100..599. */
  readonly status: number;
  /** Reason phrase, '' when absent. */
  readonly reason: string;
  /** 0 or 1 (HTTP/1.x; a minor above 1 is treated as 1). */
  readonly versionMinor: number;
  /** Flat [name, value, name, value, ...]: names as received (case kept), values with leading/trailing OWS removed. */
  readonly headers: string[];
  /**
   * How the body is delimited. A body with transfer codings under `chunked` says 'chunked':
   * the connection decodes them, so what it passes on is the content, to be framed anew.
   */
  readonly framing: Framing;
  /**
   * Transfer codings to undo, in the order to undo them (the reverse of the order applied);
   * empty for the usual plain `chunked` or no Transfer-Encoding at all.
   */
  readonly decode: readonly DecodableCoding[];
  /** For 'length'; -1 otherwise. */
  readonly contentLength: number;
  /**
   * The connection may carry another request after this response: not after `Connection: close`,
   * a close-delimited body, an HTTP/1.0 response without `Connection: keep-alive`, or a
   * `Keep-Alive: max=0` or `max=1` (see parseHead).
   */
  readonly keepAlive: boolean;
  /** Seconds the upstream said it keeps the connection idle (`Keep-Alive: timeout=N`, the smallest said), or -1. */
  readonly keepAliveTimeout: number;
}

export interface AnswerParserHandler {
  /** A complete head. For 1xx (except 101) the parser then waits for the next head of the same response. */
  onHead(head: AnswerHead): void;
  /** Body bytes with chunked framing removed; may be subarrays of the input (no copy). */
  onBody(chunk: Buffer): void;
  /** The message is complete. trailers: flat [name, value, ...] of a chunked body's trailer section, or undefined. */
  onComplete(trailers: string[] | undefined): void;
}

export type FinishResult = 'complete' | 'idle' | 'head' | 'body';
