import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { errors } from 'undici';
import { classifyExchangeError } from '../failure/classify.ts';
import { Failure } from '../failure/failure.ts';
import { receivedStatusProxyStatus } from '../failure/proxy-status.ts';
import type { Stage } from '../failure/taxonomy.ts';
import type { RequestRecord } from '../log/request-record.ts';
import { isResetInProgress } from './connector.ts';
import { buildDownstreamHead } from './response-headers.ts';
import { expectSocketFacts, type SocketFacts, type SocketFactsListener } from './socket-facts.ts';
import type { Target, Upstream } from './upstream.ts';

/** What an exchange reports back to the attempt loop that started it. */
export interface ExchangeOwner {
  /** The attempt failed before anything went downstream: retry it, or answer with an error response. */
  attemptFailed(failure: Failure): void;
  /** The upstream answered with a response head (whatever its status): the attempt reached a working server. */
  headReceived(status: number): void;
  /** The transfer broke after the head went downstream (already aborted; recorded for the log and health). */
  bodyFailed(failure: Failure): void;
}

/** The request body an attempt sends: none, the client's stream, or a buffered copy that can be replayed. */
export type AttemptBody =
  | { readonly kind: 'none' }
  | { readonly kind: 'stream' }
  | { readonly kind: 'buffer'; readonly bytes: Buffer };

export interface ExchangeOptions {
  readonly path: string;
  readonly headers: string[];
  readonly body: AttemptBody;
  /** Count the body's bytes for the log (only the first attempt's, so a replay is not counted twice). */
  readonly countBody: boolean;
  /** Largest request body accepted when its length is not announced (chunked). */
  readonly bodyLimit: number;
  readonly bodyIdleTimeout: number;
  readonly proxyName: string;
  readonly via: string;
  /** next-hop for Proxy-Status on the upstream's own error responses. */
  readonly nextHop: string;
}

/**
 * The forward phase: one attempt against one target, as an undici dispatch handler.
 * Bodies stream both ways with backpressure; every failure is classified once, with the
 * stage it happened at, and handed to the owner (before the head went downstream) or
 * turned into an aborted downstream transfer (after).
 */
export class Exchange implements Dispatcher.DispatchHandler, SocketFactsListener {
  private readonly req: IncomingMessage;
  private readonly res: ServerResponse;
  private readonly record: RequestRecord;
  private readonly target: Target;
  private readonly upstream: Upstream;
  private readonly owner: ExchangeOwner;
  private readonly options: ExchangeOptions;
  private controller: Dispatcher.DispatchController | undefined;
  private stage: Stage = 'not_sent';
  private status = 0;
  private closeDelimited = false;
  private finished = false;
  /** A failure decided here (client gone, body too large, deadline) to report instead of undici's error. */
  private localFailure: Failure | undefined;
  private queueTimer: NodeJS.Timeout | undefined;
  private bodyTimer: NodeJS.Timeout | undefined;
  /** Counted in upstream.pending until undici starts writing it. */
  private waiting = false;
  private readonly bodyUnannounced: boolean;

  constructor(
    req: IncomingMessage,
    res: ServerResponse,
    record: RequestRecord,
    upstream: Upstream,
    target: Target,
    owner: ExchangeOwner,
    options: ExchangeOptions,
  ) {
    this.req = req;
    this.res = res;
    this.record = record;
    this.upstream = upstream;
    this.target = target;
    this.owner = owner;
    this.options = options;
    this.bodyUnannounced = options.body.kind === 'stream' && req.headers['content-length'] === undefined;
  }

  /** How far this attempt got. */
  get reached(): Stage {
    return this.stage;
  }

  start(): void {
    const { req, options, upstream } = this;
    // Beyond the pool's connections the attempt waits in undici's queue: bounded in time here.
    if (this.target.active >= upstream.config.pool.maxConnections) {
      this.queueTimer = setTimeout(this.onQueueTimeout, upstream.config.pool.queueTimeout);
    }
    this.target.active++;
    upstream.pending++;
    this.waiting = true;
    this.res.on('close', this.onDownstreamClose);
    this.target.pool.dispatch(
      {
        origin: this.target.config.origin,
        path: options.path,
        method: req.method as Dispatcher.HttpMethod,
        headers: options.headers,
        // undici dispatches async iterables as bodies (writeIterable); its types only list streams.
        body:
          options.body.kind === 'none'
            ? null
            : options.body.kind === 'buffer'
              ? options.body.bytes
              : this.bodyUnannounced
                ? (this.limitedBody() as unknown as Readable)
                : req,
      },
      this,
    );
  }

  // ── undici's side ────────────────────────────────────────────────────────────────

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.localFailure) {
      controller.abort(this.localFailure);
      return;
    }
    this.stage = 'sent';
    this.stopWaiting();
    expectSocketFacts(this);
    // The body clock starts when undici starts reading the body, not while the request waits for a connection.
    if (this.options.body.kind === 'stream') {
      this.bodyTimer = setTimeout(this.onBodyIdle, this.options.bodyIdleTimeout);
    }
  }

  onSocketFacts(facts: SocketFacts): void {
    this.record.connectMs = facts.connectMs;
    this.record.reusedConnection = facts.reused;
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    _headers: unknown,
    statusMessage?: string,
  ): void {
    if (statusCode < 200) return this.forwardInformational(statusCode, controller);
    const { record, res } = this;
    this.stage = 'head_received';
    this.status = statusCode;
    record.ttfbMs = record.elapsed();
    const head = buildDownstreamHead(controller.rawHeaders as Buffer[], {
      requestId: record.id,
      via: this.options.via,
      proxyStatus:
        statusCode >= 500
          ? receivedStatusProxyStatus(this.options.proxyName, statusCode, this.options.nextHop)
          : undefined,
    });
    if (head.unsupportedCoding !== undefined) {
      // Stripping Transfer-Encoding: gzip would hand the client gzip bytes as if they were the body.
      controller.abort(
        new Failure(
          'http_response_transfer_coding',
          `unsupported transfer coding "${head.unsupportedCoding}"`,
          {
            stage: 'head_received',
          },
        ),
      );
      return;
    }
    this.closeDelimited =
      head.closeDelimited && statusCode !== 204 && statusCode !== 304 && this.req.method !== 'HEAD';
    try {
      res.writeHead(statusCode, statusMessage || undefined, head.headers);
    } catch (err) {
      // Node refuses a field undici let through (e.g. a character invalid in a header value).
      controller.abort(
        new Failure('http_protocol_error', `invalid response header: ${(err as Error).message}`, {
          stage: 'head_received',
          cause: err,
        }),
      );
      return;
    }
    record.status = statusCode;
    this.stage = 'body_streaming';
    this.owner.headReceived(statusCode);
    // undici hands over the head, the body and the end of a small response in one tick:
    // corked until the tick is over, they leave in one write instead of three.
    const socket = res.socket;
    if (socket) {
      socket.cork();
      process.nextTick(uncork, socket);
    }
    // Send the head now: a client waiting on a slow body should know it is coming.
    if (!head.hasLength || this.req.method === 'HEAD') res.flushHeaders();
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.record.bytesOut += chunk.length;
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once('drain', () => controller.resume());
    }
  }

  onResponseEnd(controller: Dispatcher.DispatchController): void {
    if (this.closeDelimited && isResetInProgress()) {
      // A body framed by the connection's end that ended in a reset may be cut short:
      // undici calls it complete, Candor does not.
      this.record.upstreamReset = true;
      return this.failAfterHead(
        new Failure(
          'http_response_incomplete',
          'connection reset before a clean end of the close-delimited body',
          {
            stage: 'body_streaming',
          },
        ),
      );
    }
    const trailers = controller.rawTrailers as Buffer[] | undefined;
    if (trailers && trailers.length > 0) this.res.addTrailers(pairs(trailers));
    this.res.end();
    this.finish();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.finished) return;
    // RFC 9110 §8.6: a 304 may carry the Content-Length of the representation it stands for.
    if (this.status === 304 && error instanceof errors.ResponseContentLengthMismatchError) {
      this.res.end();
      return this.finish();
    }
    const failure =
      this.localFailure ??
      this.requestBodyFailure() ??
      classifyExchangeError(error, this.stage, this.record.elapsed());
    if ((error as NodeJS.ErrnoException).code === 'ECONNRESET') this.record.upstreamReset = true;
    if (this.record.clientAborted) {
      this.record.failure = failure;
      return this.finish();
    }
    if (this.stage === 'body_streaming') return this.failAfterHead(failure);
    this.finish();
    this.owner.attemptFailed(failure);
  }

  // ── the client's side ────────────────────────────────────────────────────────────

  /** The client's body broke (malformed chunks, a reset mid-upload): the fault is downstream, not upstream. */
  private requestBodyFailure(): Failure | undefined {
    const err = this.req.errored as NodeJS.ErrnoException | null;
    if (!err) return undefined;
    if (err.code === 'ECONNRESET' || err.code === 'ECONNABORTED') {
      this.record.clientAborted = true;
      return new Failure('http_request_error', 'client closed the connection while sending the body', {
        status: 499,
        stage: this.stage,
      });
    }
    return new Failure('http_request_error', `request body could not be read (${err.code ?? err.message})`, {
      status: 400,
      stage: this.stage,
    });
  }

  private readonly onDownstreamClose = (): void => {
    if (this.finished || this.res.writableFinished) return;
    this.record.clientAborted = true;
    this.cancel(
      new Failure('http_request_error', 'client closed the connection', { status: 499, stage: this.stage }),
    );
  };

  private readonly onQueueTimeout = (): void => {
    const { queueTimeout } = this.upstream.config.pool;
    this.cancel(
      new Failure(
        'connection_limit_reached',
        `no connection to "${this.upstream.name}" freed up within ${queueTimeout} ms`,
        {
          retryAfter: 1,
        },
      ),
    );
  };

  /**
   * Counts the request body as undici sends it (a 'data' listener of our own would put the
   * stream in flowing mode before undici reads it, and lose the first chunks) and enforces
   * the route's limit on bodies whose length was not announced.
   */
  onBodySent(chunk: Buffer | string): void {
    if (this.options.countBody) this.record.bytesIn += chunk.length;
    this.bodyTimer?.refresh();
  }

  /**
   * A body of unannounced length, passed on chunk by chunk until it would cross the route's
   * limit: the chunk that crosses it is never sent, and throwing (not returning) keeps undici
   * from sending the last chunk, so the upstream never sees a complete body.
   */
  private async *limitedBody(): AsyncGenerator<Buffer> {
    let seen = 0;
    // destroyOnReturn: false keeps the client's socket open for the 413.
    for await (const chunk of this.req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      seen += chunk.length;
      if (seen > this.options.bodyLimit) {
        const failure = new Failure(
          'http_request_error',
          `request body larger than the route's limit of ${this.options.bodyLimit} bytes`,
          { status: 413, stage: this.stage },
        );
        this.cancel(failure);
        throw failure;
      }
      yield chunk;
    }
  }

  onRequestSent(): void {
    clearTimeout(this.bodyTimer);
  }

  private readonly onBodyIdle = (): void => {
    // undici pauses the body while the upstream is slow to read: that silence is not the client's.
    if (this.req.readableFlowing !== true || this.req.readableLength > 0) {
      this.bodyTimer?.refresh();
      return;
    }
    this.cancel(
      new Failure('http_request_error', `request body stalled for ${this.options.bodyIdleTimeout} ms`, {
        status: 408,
        stage: this.stage,
      }),
    );
  };

  /**
   * Ends the attempt for a reason decided outside undici (client gone, deadline, limits);
   * undici reports back through onResponseError, which reports the reason given here.
   */
  cancel(failure: Failure): void {
    if (this.finished || this.localFailure) return;
    this.localFailure = failure;
    if (this.controller) this.controller.abort(failure);
    else if (this.record.clientAborted) this.finish();
    else if (this.waiting) {
      // Still in the pool's queue: undici has no handle to abort yet, so answer now and
      // abort it in onRequestStart when (if) its turn comes.
      this.finish();
      this.owner.attemptFailed(failure.at('not_sent'));
    }
  }

  private stopWaiting(): void {
    if (!this.waiting) return;
    this.waiting = false;
    this.upstream.pending--;
    clearTimeout(this.queueTimer);
  }

  /** After the head went downstream the status cannot change: abort the transfer so the client sees it cut. */
  private failAfterHead(failure: Failure): void {
    this.finish();
    this.owner.bodyFailed(failure);
    this.res.destroy();
  }

  private forwardInformational(statusCode: number, controller: Dispatcher.DispatchController): void {
    // 100 answers an Expect that Candor handled itself; 1xx are not for HTTP/1.0 clients.
    if (this.req.httpVersionMinor === 0 || this.res.headersSent) return;
    if (statusCode === 103) this.res.writeEarlyHints(earlyHints(controller.rawHeaders as Buffer[]));
    else if (statusCode === 102) this.res.writeProcessing();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.stopWaiting();
    this.target.active--;
    clearTimeout(this.bodyTimer);
    this.res.off('close', this.onDownstreamClose);
  }
}

function uncork(socket: Socket): void {
  socket.uncork();
}

function pairs(raw: readonly Buffer[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < raw.length; i += 2) out.push([raw[i].toString(), raw[i + 1].toString('latin1')]);
  return out;
}

function earlyHints(raw: readonly Buffer[]): Record<string, string | string[]> {
  const hints: Record<string, string[]> = {};
  for (const [name, value] of pairs(raw)) {
    const key = name.toLowerCase();
    hints[key] = [...(hints[key] ?? []), value];
  }
  return hints;
}
