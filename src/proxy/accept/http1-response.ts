/**
 * The HTTP/1.1 response sink: one response on a client connection, framed by Candor. The head
 * goes through the one serializer (core/http1/response-head.ts); a body without a length is
 * chunked for an HTTP/1.1 client and delimited by the close for an HTTP/1.0 one; HEAD, 204
 * and 304 carry none whatever the fields say.
 */
import type { Socket } from 'node:net';
import { serializeResponseHead } from '../../core/http1/response-head.ts';
import type { ResponseSink } from './downstream.ts';

/** What the sink reports to its connection. */
export interface ResponseOwner {
  /** The final head is going out. */
  responseStarted(): void;
  /** The whole response is on the socket; `close`: the connection must close after it. */
  responseFinished(close: boolean): void;
  /** The exchange was cut: the connection closes at once. */
  responseAborted(): void;
}

const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';
const LAST_CHUNK = '0\r\n\r\n';
const CRLF = '\r\n';

let dateSecond = 0;
let dateText = '';
/** RFC 9110 §6.6.1: Date, formatted once a second (the same string for every response in it). */
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}

function hasField(headers: readonly string[], lower: string): number {
  for (let i = 0; i < headers.length; i += 2)
    if (headers[i].length === lower.length && headers[i].toLowerCase() === lower) return i;
  return -1;
}

export class Http1Response implements ResponseSink {
  readonly #socket: Socket;
  readonly #owner: ResponseOwner;
  readonly #headRequest: boolean;
  readonly #versionMinor: number;
  readonly #keepAliveSeconds: number;
  /** The request asked for the connection to close, or the connection is closing anyway. */
  #close: boolean;
  #expectContinue: boolean;
  #headSent = false;
  #finished = false;
  #over = false;
  #chunked = false;
  #bodyless = false;
  readonly #closeCallbacks: ((finished: boolean) => void)[] = [];

  constructor(
    socket: Socket,
    owner: ResponseOwner,
    facts: {
      headRequest: boolean;
      versionMinor: number;
      close: boolean;
      expectContinue: boolean;
      /** Said in `Keep-Alive: timeout=N` on a response that keeps the connection (0: not said). */
      keepAliveSeconds?: number;
    },
  ) {
    this.#keepAliveSeconds = facts.keepAliveSeconds ?? 0;
    this.#socket = socket;
    this.#owner = owner;
    this.#headRequest = facts.headRequest;
    this.#versionMinor = facts.versionMinor;
    this.#close = facts.close;
    this.#expectContinue = facts.expectContinue;
  }

  get headSent(): boolean {
    return this.#headSent;
  }

  get finished(): boolean {
    return this.#finished;
  }

  /** The connection will close after this response (a drain, a refused request behind it). */
  closeAfter(): void {
    this.#close = true;
  }

  sendContinue(): void {
    if (!this.#expectContinue || this.#headSent || this.#over) return;
    this.#expectContinue = false;
    this.#socket.write(CONTINUE, 'latin1');
  }

  sendInterim(status: number, reason: string, headers: readonly string[]): void {
    if (this.#headSent || this.#over || this.#versionMinor === 0) return;
    this.#socket.write(serializeResponseHead(status, reason, headers), 'latin1');
  }

  sendHead(status: number, reason: string, headers: readonly string[], close = false): void {
    if (this.#headSent || this.#over) throw new Error('response head sent twice');
    this.#headSent = true;
    if (close) this.#close = true;
    this.#bodyless = this.#headRequest || status === 204 || status === 304;
    const out = ['date', httpDate(), ...headers];
    if (!this.#bodyless && hasField(headers, 'content-length') === -1) {
      // No length: chunked to HTTP/1.1, the close ends it for HTTP/1.0 (RFC 9112 §6.3).
      if (this.#versionMinor === 1) {
        this.#chunked = true;
        out.push('transfer-encoding', 'chunked');
      } else this.#close = true;
    }
    // RFC 9112 §9.3: a proxy must not keep a connection to an HTTP/1.0 client persistent.
    if (this.#versionMinor === 0) this.#close = true;
    if (this.#close) out.push('connection', 'close');
    else if (hasField(headers, 'connection') === -1) {
      // As node:http said it: clients (and the drain test's) read the connection's fate here.
      out.push('connection', 'keep-alive');
      if (this.#keepAliveSeconds > 0) out.push('keep-alive', `timeout=${this.#keepAliveSeconds}`);
    }
    this.#owner.responseStarted();
    this.#socket.write(serializeResponseHead(status, reason, out), 'latin1');
  }

  write(chunk: Buffer): boolean {
    if (!this.#headSent || this.#over) return true;
    if (this.#bodyless || chunk.length === 0) return true;
    if (!this.#chunked) return this.#socket.write(chunk);
    // One cork for size line, data and CRLF: one write(v) to the kernel.
    this.#socket.cork();
    this.#socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
    this.#socket.write(chunk);
    const ok = this.#socket.write(CRLF, 'latin1');
    this.#socket.uncork();
    return ok;
  }

  onDrain(callback: () => void): void {
    this.#socket.once('drain', callback);
  }

  end(trailers?: readonly string[]): void {
    if (this.#over) return;
    if (!this.#headSent) throw new Error('response ended before its head');
    if (this.#chunked) {
      let last = LAST_CHUNK;
      if (trailers !== undefined && trailers.length > 0) {
        last = '0\r\n';
        for (let i = 0; i < trailers.length; i += 2) last += `${trailers[i]}: ${trailers[i + 1]}\r\n`;
        last += CRLF;
      }
      this.#socket.write(last, 'latin1');
    }
    this.#over = true;
    this.#finished = true;
    this.#owner.responseFinished(this.#close);
    this.#closed(true);
  }

  abort(): void {
    if (this.#over) return;
    this.#over = true;
    this.#owner.responseAborted();
    this.#closed(false);
  }

  onClose(callback: (finished: boolean) => void): void {
    this.#closeCallbacks.push(callback);
  }

  /** The connection went away under this response (the client left, or the gateway cut it). */
  connectionClosed(): void {
    if (this.#over) return;
    this.#over = true;
    this.#closed(false);
  }

  #closed(finished: boolean): void {
    for (const callback of this.#closeCallbacks.splice(0)) callback(finished);
  }
}
