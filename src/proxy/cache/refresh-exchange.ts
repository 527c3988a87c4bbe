import type { Socket } from 'node:net';
import type { DownstreamExchange, DownstreamHead, ResponseSink } from '../../core/net/downstream.ts';

/**
 * Fields of the client's request a refresh does not carry: its own validators and range (the
 * cache sends the stored answer's), its request id and trace (the refresh is a request of its
 * own), and what frames a body it does not have.
 */
const NOT_CARRIED = new Set([
  'if-none-match',
  'if-modified-since',
  'if-match',
  'if-unmodified-since',
  'if-range',
  'range',
  'x-request-id',
  'traceparent',
  'tracestate',
  'content-length',
  'transfer-encoding',
  'expect',
]);

/**
 * The exchange of a stale answer's background refresh (stale-while-revalidate, RFC 5861 §3):
 * a GET of the gateway's own, made from the request that was served the stale answer (its
 * fields, so the route and its access rules judge it the same), through the whole pipeline
 * with a log line of its own. Nobody reads its answer: the sink takes it and lets it go (the
 * cache run stores it, or a 304 refreshes the stored one). `done` ends the key's fetch, which
 * other requests for the key wait on meanwhile: called when the refresh is over, whatever happened.
 */
export function refreshExchange(of: DownstreamHead, done: () => void): DownstreamExchange {
  const headers: string[] = [];
  for (let i = 0; i < of.headers.length; i += 2)
    if (!NOT_CARRIED.has(of.headers[i].toLowerCase())) headers.push(of.headers[i], of.headers[i + 1]);
  const head: DownstreamHead = {
    method: 'GET',
    target: of.target,
    versionMajor: 1,
    versionMinor: 1,
    protocol: 'HTTP/1.1',
    headers,
    remoteAddress: of.remoteAddress,
    encrypted: of.encrypted,
    ...(of.servername === undefined ? {} : { servername: of.servername }),
    bodyLength: undefined,
    upgrade: false,
    expectContinue: false,
  };
  const response = new DiscardingSink();
  response.onClose(done);
  return { head, body: undefined, bodyComplete: true, response, refresh: done };
}

/** A response sink nobody reads: every write is taken at once, and the end closes it. */
class DiscardingSink implements ResponseSink {
  headSent = false;
  finished = false;
  closed = false;
  readonly cutByDrain = false;
  readonly pendingBytes = 0;
  flushedBytes = 0;
  readonly #closeCallbacks: ((finished: boolean) => void)[] = [];

  sendContinue(): void {}

  sendInterim(): boolean {
    return false;
  }

  sendHead(): void {
    this.headSent = true;
  }

  holdUntilTurnEnd(): void {}

  write(chunk: Buffer): boolean {
    this.flushedBytes += chunk.length;
    return true;
  }

  onDrain(): void {}

  /** Every write is taken at once: nothing ever waits for this sink. */
  onSendTimeout(): void {}

  end(): void {
    if (this.closed) return;
    this.finished = true;
    this.#close(true);
  }

  abort(): void {
    if (this.closed) return;
    this.#close(false);
  }

  onClose(callback: (finished: boolean) => void): void {
    if (this.closed) callback(this.finished);
    else this.#closeCallbacks.push(callback);
  }

  switchProtocols(): { socket: Socket; rest: Buffer } | undefined {
    return undefined;
  }

  #close(finished: boolean): void {
    this.closed = true;
    for (const callback of this.#closeCallbacks.splice(0)) callback(finished);
  }
}
