/**
 * What the strict request parser (request-parser.ts) is given and hands over: its limits, the
 * head it parsed, the handler that takes the head, body and trailers, and the refusal when a
 * request is not well framed. Apart from the parser so that what reads a head (the accept
 * phase, the HTTP/2 server's refusals) does not import the parser's loop.
 */
import { MAX_FIELDS } from './field-lines.ts';

/**
 * Why a request was refused: the status to answer with, a code (llhttp's name for the same
 * fault where there is one, so log lines and answers read as they did before Candor parsed
 * requests itself) and the details for the answer and the log.
 */
export interface RequestParseError {
  readonly status: number;
  readonly code: string;
  readonly details: string;
  /** In the body (or trailers) of a request whose head was already handed over. */
  readonly inBody: boolean;
}

export type RequestFraming = 'none' | 'length' | 'chunked';

export interface RequestHead {
  readonly method: string;
  /** The request target as sent (origin, absolute, authority or asterisk form). */
  readonly target: string;
  /** 1.0 or 1.1: HTTP/1.2 to 1.9 are read as 1.1 (RFC 9112 §2.3), another major is refused. */
  readonly versionMinor: 0 | 1;
  /** Flat [name, value, name, value, ...]: names as received, values without surrounding OWS. */
  readonly headers: string[];
  readonly framing: RequestFraming;
  /** For 'length'; -1 otherwise. */
  readonly contentLength: number;
  /** The message allows another request on the connection (HTTP/1.1 without `close`, or 1.0 with `keep-alive`). */
  readonly keepAlive: boolean;
  /** `Connection: upgrade` with an `Upgrade` field: the client asks to switch protocols after this request. */
  readonly upgrade: boolean;
}

export interface RequestParserHandler {
  onHead(head: RequestHead): void;
  /** Body bytes with chunked framing removed; may be subarrays of the input (no copy). */
  onBody(chunk: Buffer): void;
  /** The request is complete. trailers: flat [name, value, ...] of a chunked body's trailer section, or undefined. */
  onComplete(trailers: string[] | undefined): void;
}

export interface RequestParserLimits {
  /** Largest head (request line and header section, CRLFs included); also the trailer section's bound. */
  readonly headerSize: number;
  /** A request line still open past the head limit, or longer than this, is a 414 rather than a 431. */
  readonly uriLength: number;
  /**
   * The listener reads a PROXY protocol header before HTTP (listen[].proxy_protocol): one where
   * a request line belongs is then a second one, not a balancer set up without the setting.
   */
  readonly proxyProtocol?: boolean;
  /**
   * How the listener serves HTTP/2 (listen[].http2), if it does: the preface's request line
   * reaches this parser only when it began a broken preface (a plain listener takes a whole one
   * first) or came on a TLS connection whose ALPN chose HTTP/1.1, not that HTTP/2 is not served.
   */
  readonly http2?: 'prior-knowledge' | 'alpn';
}

/** At most this many header (or trailer) fields: beyond it the section counts as too large (431). */
export const MAX_REQUEST_FIELDS = MAX_FIELDS;
