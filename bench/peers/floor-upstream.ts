// The contract floors' upstream side (contract-floor.ts for HTTP/1.1 clients, h2-contract-floor.ts
// for HTTP/2): the ceilings' idle list of keep-alive connections to the origin, each with Candor's
// strict response parser, and what every request asks of the contract on its way there and back:
// an id and a traceparent, the path in its normal form, the one head builder both ways, and one
// access line (a RequestRecord written by logRequest through the gateway's logger and writer).
import { connect, type Socket } from 'node:net';
import { DEFAULTS } from '../../src/core/config/defaults.ts';
import { AnswerParser } from '../../src/core/http1/answer-parser.ts';
import type { AnswerHead, Framing } from '../../src/core/http1/parsed-answer.ts';
import { serializeRequestHead } from '../../src/core/http1/request-head.ts';
import { nameIs } from '../../src/core/http1/syntax.ts';
import { newRequestId } from '../../src/core/ids/ids.ts';
import { continueOrStartTrace } from '../../src/core/ids/traceparent.ts';
import { connectDirectReads, takeReads } from '../../src/core/net/direct-reads.ts';
import { corkUntilTurnEnd } from '../../src/core/net/turn-end.ts';
import { logRequest } from '../../src/observe/log/access-log.ts';
import { createLogger } from '../../src/observe/log/logger.ts';
import { RequestRecord } from '../../src/observe/log/request-record.ts';
import { buildDownstreamHead } from '../../src/proxy/forward/answer-headers.ts';
import { buildUpstreamHeaders } from '../../src/proxy/forward/request-headers.ts';
import { routedPath } from '../../src/proxy/route/request-path.ts';
import { withTry } from '../../src/proxy/session/attempt.ts';

const logger = createLogger({ level: 'info', destination: process.env.ACCESS_LOG ?? '/dev/null' }, 'floor');
const PATHS = { normalize: true, mergeSlashes: true };
const VIA = '1.1 floor';
/** At most this many idle connections kept a port, as the ceilings keep. */
const IDLE_MAX = 256;
const idle = new Map<number, Upstream[]>();
/**
 * The ceiling's BATCHED mode (net-proxy.mjs): each request's write held to the turn's end, and
 * both sides' reads straight from the socket into the process's one buffer (direct-reads.ts).
 */
export const BATCHED = process.env.BATCHED === '1';

/** Bytes kept past a read, or held in a write to the turn's end: a copy when reads share one buffer (BATCHED). */
export function own(bytes: Buffer): Buffer {
  return BATCHED ? Buffer.from(bytes) : bytes;
}

/** Where a response goes: the client's side of one request, HTTP/1.1 or HTTP/2. */
export interface FloorSink {
  /** The head, its fields built by the one head builder (hop-by-hop out, Via and the id in). */
  head(status: number, reason: string, fields: string[], framing: Framing, bodyless: boolean): void;
  body(chunk: Buffer): void;
  /** The response is whole (`whole`), or it was cut: the sink cuts the client's side too. */
  end(whole: boolean): void;
  /** Around each read from the upstream: what it makes the client's side write goes as one write. */
  cork(): void;
  uncork(): void;
  /** After the access line: the client's side may take its next request. */
  over(): void;
}

/**
 * One request through the floor: its record, where its answer goes, its head to send, and its
 * body on its way (held until its connection is there). One object a request, its methods on
 * the class: no closure made per request, as the ceiling makes none.
 */
class Exchange implements FloorBody {
  readonly record: RequestRecord;
  readonly sink: FloorSink;
  readonly head: boolean;
  readonly #text: string;
  #socket: Socket | undefined = undefined;
  #held: Buffer[] | undefined = undefined;

  constructor(record: RequestRecord, sink: FloorSink, head: boolean, text: string) {
    this.record = record;
    this.sink = sink;
    this.head = head;
    this.#text = text;
  }

  /** Sends the head (and what was held of the body) on `up`, which now serves this exchange. */
  send(up: Upstream, reused: boolean): void {
    this.record.reusedConnection = reused;
    up.exchange = this;
    up.parser.expect(this.head);
    if (BATCHED) corkUntilTurnEnd(up.socket);
    up.socket.write(this.#text, 'latin1');
    this.#socket = up.socket;
    if (this.#held !== undefined) for (const chunk of this.#held.splice(0)) up.socket.write(chunk);
  }

  write(chunk: Buffer): void {
    if (this.#socket !== undefined) return void this.#socket.write(chunk);
    if (this.#held === undefined) this.#held = [];
    this.#held.push(chunk);
  }
}

/** An upstream connection with its one strict response parser, relaying to the exchange it serves. */
class Upstream {
  readonly socket: Socket;
  readonly port: number;
  readonly parser = new AnswerParser(this, DEFAULTS.limits.headerSize);
  exchange: Exchange | undefined;
  #keepAlive = false;

  constructor(socket: Socket, port: number) {
    this.socket = socket;
    this.port = port;
    const read = (data: Buffer) => {
      const sink = this.exchange?.sink;
      if (sink === undefined) return socket.destroy();
      sink.cork();
      if (this.parser.execute(data) !== undefined) this.#end(false);
      sink.uncork();
    };
    if (!BATCHED || !takeReads(socket, read)) socket.on('data', read);
    socket.on(
      'end',
      () => this.exchange !== undefined && this.parser.finish() !== 'complete' && this.#end(false),
    );
    socket.on('close', () => {
      if (this.exchange !== undefined) this.#end(false);
      const list = idle.get(port);
      if (list?.includes(this)) list.splice(list.indexOf(this), 1);
    });
  }

  onHead(head: AnswerHead): void {
    const x = this.exchange as Exchange;
    x.record.status = head.status;
    x.record.ttfbMs = x.record.elapsed();
    this.#keepAlive = head.keepAlive && head.framing !== 'close';
    const fields = buildDownstreamHead(head.headers, x.record.id, VIA, undefined, false);
    const bodyless =
      x.head || head.framing === 'none' || (head.framing === 'length' && head.contentLength === 0);
    x.sink.head(head.status, head.reason, fields, head.framing, bodyless);
  }

  onBody(chunk: Buffer): void {
    const x = this.exchange as Exchange;
    x.record.bytesOut += chunk.length;
    if (!x.head) x.sink.body(own(chunk));
  }

  onComplete(): void {
    this.#end(this.#keepAlive);
  }

  #end(whole: boolean): void {
    const x = this.exchange as Exchange;
    this.exchange = undefined;
    const list = idle.get(this.port);
    if (whole && list !== undefined && list.length < IDLE_MAX) list.push(this);
    else this.socket.destroy();
    finish(x, whole, whole ? undefined : 'http_response_incomplete');
  }
}

function finish(x: Exchange, whole: boolean, error: string | undefined): void {
  const { record } = x;
  // Written as Candor's attempt loop writes it: a list of one (pushed, it took room for 17).
  record.tries = withTry(
    record.tries,
    {
      target: record.target as string,
      status: record.status || undefined,
      error,
      stage: undefined,
      ms: record.elapsed(),
    },
    false,
  );
  x.sink.end(whole);
  logRequest(logger, record);
  x.sink.over();
}

/**
 * Each origin port's target as the line names it, made once, as a route's target is its
 * config's string: the access line copies a target it wrote for the line before (access-log.ts),
 * and a new string each request is compared with the last one in the runtime.
 */
const targets = new Map<number, string>();
function targetOf(port: number): string {
  let target = targets.get(port);
  if (target === undefined) {
    target = `127.0.0.1:${port}`;
    targets.set(port, target);
  }
  return target;
}

/** What the client's side read of the request (HTTP/1.1's parser or HTTP/2's head). */
export interface FloorRequest {
  readonly method: string;
  readonly target: string;
  /** Flat [name, value, …], Host among them. */
  readonly headers: readonly string[];
  readonly clientAddress: string;
  readonly protocol: string;
  /** A Content-Length body comes (its bytes through the handle forward() returns), or none. */
  readonly hasBody: boolean;
}

/** A request's body on its way: written to the upstream once its connection is there, held until then. */
export interface FloorBody {
  write(chunk: Buffer): void;
}

/**
 * Sends one request to the origin at `port` on an idle connection or a new one and relays the
 * answer to `sink` (its `over` runs after the access line). Undefined: its path cannot be
 * routed (the caller refuses it); else where its body goes.
 */
export function forward(request: FloorRequest, port: number, sink: FloorSink): FloorBody | undefined {
  const { method, target, headers } = request;
  const routed = routedPath(target, target, PATHS);
  if (!('path' in routed)) return undefined;
  let host = '';
  let traceparent: string | undefined;
  // Names compared as they came, as Candor's head readers compare them (no lower-cased copy).
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i];
    if (nameIs(name, 'host')) host = headers[i + 1];
    else if (nameIs(name, 'traceparent')) traceparent = headers[i + 1];
  }
  const trace = continueOrStartTrace(traceparent);
  const record = new RequestRecord(newRequestId(), trace, request.clientAddress, method, host, target);
  if (routed.path !== target) record.upstreamPath = routed.path;
  record.protocol = request.protocol;
  record.route = 'bench';
  record.upstream = 'origin';
  record.target = targetOf(port);
  const fields = buildUpstreamHeaders(headers, {
    clientAddress: record.clientAddress,
    trusted: false,
    protocol: 'http',
    host,
    requestId: record.id,
    traceparent: trace.traceparent,
    keepTracestate: trace.continued,
    via: VIA,
  });
  const body = request.hasBody ? STREAMED : NO_BODY;
  const text = serializeRequestHead({ method, path: routed.path, headers: fields, body }, host);
  const exchange = new Exchange(record, sink, method === 'HEAD', text);
  let list = idle.get(port);
  if (list === undefined) {
    list = [];
    idle.set(port, list);
  }
  const kept = list.pop();
  if (kept !== undefined) exchange.send(kept, true);
  else {
    // A new connection: its handlers made once, as the ceiling's are.
    const connecting = BATCHED ? connectDirectReads({ port, host: '127.0.0.1' }) : connect(port, '127.0.0.1');
    connecting.once('connect', () => {
      connecting.off('error', refused).on('error', () => {});
      exchange.send(new Upstream(connecting, port), false);
    });
    const refused = () => {
      record.status = 502;
      sink.head(502, 'Bad Gateway', ['content-length', '0', 'x-request-id', record.id], 'length', true);
      finish(exchange, true, 'connection_refused');
    };
    connecting.setNoDelay(true).once('error', refused);
  }
  return exchange;
}

const NO_BODY = Object.freeze({ kind: 'none' as const });
const STREAMED = Object.freeze({ kind: 'stream' as const, lengthAnnounced: true });
