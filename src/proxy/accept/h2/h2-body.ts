/**
 * An HTTP/2 request's body as the session reads it, with the stream's flow-control window as
 * its backpressure (the request head is h2-request.ts's).
 */
import { constants, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { Readable } from 'node:stream';
import { h2ErrorName, NGHTTP2_RESETS_STREAM_ERRORS } from '../../../core/failure/h2-stream-end.ts';
import { fieldBreak } from '../../../core/http1/request-rules.ts';
import type { H2BodyOwner } from './h2-answer-owner.ts';
import { protocolBreach } from './h2-request.ts';

/**
 * The request body: the stream's DATA, read only as fast as the session reads it (the
 * stream is paused, so its window closes on the client). A stream the client resets before
 * its end errors the body with ECONNRESET; one nghttp2 reset because its DATA ended short of
 * its `content-length` (malformed, RFC 9113 §8.1.1) errors it as a 400 of the client's;
 * trailers (a HEADERS frame after the data) are kept on `trailers`, flat, as the HTTP/1.1
 * body keeps its chunked trailers.
 */
export class H2Body extends Readable {
  readonly #stream: ServerHttp2Stream;
  trailers: readonly string[] | undefined;
  /** The client's END_STREAM came: the whole body is in (the session may not have read it yet). */
  complete = false;

  /** `limits.body_idle_timeout`: the longest the client may leave its body silent (0: no limit). */
  readonly #idleTimeout: number;
  #idleTimer: NodeJS.Timeout | undefined;
  /** The reader has not asked for more (not yet, or its buffer is full): a silence now is not the client's. */
  #unread = true;
  /** The body's `content-length`, when the request announced one. */
  readonly #announced: number | undefined;
  /** DATA bytes received so far. */
  #received = 0;

  /** DATA bytes taken from the client so far (what came after the session gave up on the body is dropped uncounted). */
  get received(): number {
    return this.#received;
  }

  /**
   * The connection's guard: whether the client's connection is still up (a reset then is the
   * client's own), and why the gateway closed it, when a bound its client passed did. The guard
   * itself, not a closure of it made for each request.
   */
  readonly #owner: H2BodyOwner;

  /** `limits`: what a trailer section is held to, as a head (trailerRefusal). */
  constructor(
    stream: ServerHttp2Stream,
    owner: H2BodyOwner,
    idleTimeout = 0,
    announced?: number,
    limits?: TrailerLimits,
  ) {
    super();
    this.#stream = stream;
    this.#owner = owner;
    this.#idleTimeout = idleTimeout;
    this.#announced = announced;
    // A session that never reads the body must not see the client's reset thrown at the process.
    this.on('error', () => {});
    stream.pause();
    if (idleTimeout > 0) this.#idleTimer = setTimeout(this.#onIdle, idleTimeout).unref();
    stream.on('data', (chunk: Buffer) => {
      this.#received += chunk.length;
      this.#idleTimer?.refresh();
      if (!this.push(chunk)) {
        this.#unread = true;
        stream.pause();
      }
    });
    // A reset ends node:http2's readable side too: only a real END_STREAM ends the body.
    stream.once('end', () => {
      if (this.#reset()) return this.#cut();
      this.complete = true;
      clearTimeout(this.#idleTimer);
      this.push(null);
    });
    stream.once('aborted', () => this.#cut());
    stream.once('trailers', (fields: IncomingHttpHeaders, _flags: number, raw: readonly string[]) => {
      const refused = limits === undefined ? undefined : trailerRefusal(raw, limits);
      if (refused !== undefined) {
        this.destroy(Object.assign(new Error(refused.details), { status: refused.status }));
        return;
      }
      const flat: string[] = [];
      for (const [name, value] of Object.entries(fields)) {
        if (value === undefined || name.charCodeAt(0) === 58) continue;
        // A value with SP or HTAB at an end was refused above (node:http2 lets one through: h2-limits.ts).
        for (const one of Array.isArray(value) ? value : [value]) flat.push(name, one);
      }
      this.trailers = flat;
    });
    stream.once('close', () => this.#cut());
  }

  #reset(): boolean {
    return this.#stream.aborted || (this.#stream.rstCode ?? 0) !== 0;
  }

  #cut(): void {
    if (this.readableEnded || this.destroyed) return;
    const short = this.endedShort;
    if (short !== undefined) {
      // No code: the message is the details of the 400 (classifyRequestBodyError). Nothing can
      // answer it: nghttp2 reset the stream.
      this.destroy(Object.assign(new Error(short), { status: 400 }));
      return;
    }
    const breach = protocolBreach(this.#stream, `after ${this.#received} bytes of its body`);
    if (breach !== undefined) {
      this.destroy(Object.assign(new Error(breach), { status: 400 }));
      return;
    }
    // nghttp2 resets a stream PROTOCOL_ERROR for a frame of it HTTP/2 forbids (a trailer section
    // with a pseudo-field, a connection-specific field or an upper-case name, or one without
    // END_STREAM: RFC 9113 §8.1, §8.2; each named, a client debugging its trailers reads which
    // shapes to look for) and no event says so:
    // the client's malformed request, as a bad chunked trailer is a 400 over HTTP/1.1, not its leaving.
    if (this.#stream.rstCode === constants.NGHTTP2_PROTOCOL_ERROR) {
      this.destroy(
        Object.assign(
          new Error(
            `its stream was reset PROTOCOL_ERROR after ${this.#received} bytes of its body: malformed (${NGHTTP2_RESETS_STREAM_ERRORS ? 'DATA past its content-length (RFC 9113 §8.1.1), or ' : ''}a trailer section with a pseudo-field, a connection-specific field or an upper-case name, or without END_STREAM, RFC 9113 §8.1, §8.2), or the client's own reset with that code`,
          ),
          { status: 400 },
        ),
      );
      return;
    }
    // How the client left, for the log: its stream reset on a connection still up, with the
    // reset's code (node:http2 closes every stream CANCEL when the connection goes), else its
    // connection closed (classifyRequestBodyError's default words), unless the gateway closed it
    // for a bound its client passed.
    const clientLeft = this.#owner.connectionUp
      ? `client reset the stream (${h2ErrorName(this.#stream.rstCode ?? constants.NGHTTP2_CANCEL)})`
      : this.#owner.closedFor(this.#stream.errored);
    this.destroy(
      Object.assign(new Error('the client left before the body ended'), { code: 'ECONNRESET', clientLeft }),
    );
  }

  /**
   * nghttp2 reset the stream for a body shorter than its content-length (at its END_STREAM):
   * the client's malformed request, not its leaving, in the words of its 400. (A body longer than
   * it makes node:http2 close the whole connection, logged as a protocol error of the connection,
   * where nghttp2 is 1.67 or later; an older one resets the stream for it too, said so.)
   * The DATA the paused stream still holds counts: a head, its DATA and its END_STREAM in one read
   * (a new connection's first request) are reset before a byte is handed over. Undefined: not so.
   */
  get endedShort(): string | undefined {
    const announced = this.#announced;
    if (announced === undefined || this.#stream.rstCode !== constants.NGHTTP2_PROTOCOL_ERROR)
      return undefined;
    // nghttp2 closed the whole connection for a frame it refused (DATA past the length, on a
    // stream whose head came in an earlier read: none of it handed over, so "0 bytes, short of
    // it" would be told of a body that went past it): protocolBreach names that, not this.
    if (protocolBreach(this.#stream, '') !== undefined) return undefined;
    const received = this.#received + this.#stream.readableLength;
    if (received >= announced) return undefined;
    // An nghttp2 before 1.67 (Node 22's) resets DATA past the length so too, the frame dropped.
    if (NGHTTP2_RESETS_STREAM_ERRORS)
      return `its stream was reset PROTOCOL_ERROR after ${received} bytes, short of its content-length of ${announced}: malformed, its DATA ended short of it or went past it (RFC 9113 §8.1.1; this Node's nghttp2 resets the stream for either, and says not which)`;
    return `its DATA ended after ${received} bytes, short of its content-length of ${announced}: malformed, the stream was reset PROTOCOL_ERROR (RFC 9113 §8.1.1)`;
  }

  override _read(): void {
    this.#unread = false;
    this.#stream.resume();
  }

  /**
   * The client's silence is the accept side's to judge, as on HTTP/1.1: the body errors with a
   * 408 that whoever reads it (the exchange, request buffering) classifies as the body's failure.
   */
  readonly #onIdle = (): void => {
    // Timers run before I/O in each turn of the event loop: after a stall of the gateway's own (a
    // plugin that computes, a long collection, a CPU saturated by load) DATA the client sent in
    // time waits unread while this fires, and the client got a 408 for the gateway's lag. So it
    // looks again after the poll (setImmediate): bytes read meanwhile restarted the wait.
    setImmediate(H2Body.idleAfterPoll, this, this.#received);
  };

  private static idleAfterPoll(body: H2Body, received: number): void {
    body.#idleAfterPoll(received);
  }

  #idleAfterPoll(received: number): void {
    if (this.readableEnded || this.destroyed || this.complete || this.#received !== received) return;
    // Not read because its reader (an upstream slow to take it, a request waiting for a
    // connection) is not taking it: not the client's silence.
    if (this.#unread || this.readableLength > 0) {
      this.#idleTimer?.refresh();
      return;
    }
    this.destroy(
      Object.assign(
        new Error(`request body stalled for ${this.#idleTimeout} ms (limits.body_idle_timeout)`),
        {
          code: 'ERR_BODY_IDLE',
          status: 408,
        },
      ),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.#idleTimer);
    // The session gave up on the body: what still comes is read and dropped, so the window
    // stays open and the stream can still carry its answer.
    this.#stream.removeAllListeners('data');
    if (!this.#stream.destroyed) this.#stream.resume();
    callback(error);
  }
}

export interface TrailerLimits {
  readonly maxHeaderFields: number;
  readonly maxHeaderListSize: number;
}

/**
 * Why a trailer section is refused, or undefined: 431, as HTTP/1.1 refuses too large a one, or
 * 400 for a field the head's rules refuse (fieldBreak, as h2Refusal holds a head to them: a value
 * with whitespace at an end, which RFC 9113 §8.2.1 makes malformed in a trailer section too, and
 * which node:http2 hands over, h2-limits.ts). node:http2 holds it to neither bound here: its field
 * cap sits above `max_header_fields` (so that a head past it is answered, h2-limits.ts), and it
 * holds the header list size only once the client has acknowledged the SETTINGS announcing it (a
 * first request's trailers came past it).
 */
function trailerRefusal(
  raw: readonly string[],
  limits: TrailerLimits,
): { readonly status: number; readonly details: string } | undefined {
  if (raw.length / 2 > limits.maxHeaderFields)
    return {
      status: 431,
      details: `its trailer section has more than ${limits.maxHeaderFields} fields (limits.http2.max_header_fields)`,
    };
  let size = 0;
  for (let i = 0; i < raw.length; i += 2) size += raw[i].length + raw[i + 1].length + 32;
  if (size > limits.maxHeaderListSize)
    return {
      status: 431,
      details: `its trailer section is ${size} bytes as HTTP/2 counts a header list, past the limit of ${limits.maxHeaderListSize} (limits.http2.max_header_list_size)`,
    };
  for (let i = 0; i < raw.length; i += 2) {
    const broken = fieldBreak(raw[i], raw[i + 1]);
    if (broken !== undefined)
      return { status: broken.status, details: `its trailer section: ${broken.details}` };
  }
  return undefined;
}
