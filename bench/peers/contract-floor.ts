// The contract's floor for HTTP/1.1: the raw node:net ceiling (net-proxy.mjs: the same loop, an
// idle list of keep-alive connections, each response corked into one write) doing, besides,
// only what Candor's contract asks of every request, with Candor's own code for it: the strict
// request parser here, and in floor-upstream.ts the strict response parser, the path in its
// normal form, the one head builder both ways, a request id and traceparent, and the access
// line through the gateway's logger and writer. Nothing else of a gateway: no routes, no
// session or attempts, no timers or deadlines, no health, circuits, budgets or metrics. What it
// does a second is the most a proxy keeping the contract's parsers, head builder and line does
// here: bench/run.ts's `floor` row, read against the ceiling's. It relays what the benches send:
// requests without a body or with a Content-Length one (a chunked one, or a path it cannot
// route, is cut). BATCHED=1 (bench's `floor-batched`): the loop of the ceiling's BATCHED mode
// (net-proxy.mjs), both sides' reads straight from the socket (Candor's own direct-reads.ts),
// writes held to the turn's end by Candor's own turn-end.ts and eight SO_REUSEPORT listening
// sockets, read against `net-batched`.
import { createServer, type Socket } from 'node:net';
import { DEFAULTS } from '../../src/core/config/defaults.ts';
import { serializeAnswerHead } from '../../src/core/http1/answer-head.ts';
import type { Framing } from '../../src/core/http1/parsed-answer.ts';
import type { RequestHead, RequestParserHandler } from '../../src/core/http1/parsed-request.ts';
import { RequestParser } from '../../src/core/http1/request-parser.ts';
import { takeAcceptedReads } from '../../src/core/net/direct-reads.ts';
import { corkUntilTurnEnd } from '../../src/core/net/turn-end.ts';
import { BATCHED, type FloorBody, type FloorSink, forward, own } from './floor-upstream.ts';

const [PORT, ORIGIN, DEAD] = ['PORT', 'ORIGIN_PORT', 'DEAD_PORT'].map((k) => Number(process.env[k]));
const LIMITS = { headerSize: DEFAULTS.limits.headerSize, uriLength: DEFAULTS.limits.uriLength };
const isFail = (url: string) => url === '/fail' || url.startsWith('/fail/') || url.startsWith('/fail?');

/**
 * One HTTP/1.1 client connection: its strict request parser's handler, and the sink of the
 * response under way (one request at a time: the next waits for this one's answer). Its state
 * in the object and its handlers made once, as the ceiling's Client: nothing made per request
 * but the request's own objects.
 */
class Http1Client implements FloorSink, RequestParserHandler {
  readonly #client: Socket;
  readonly #parser: RequestParser;
  /** The request under way asked for the connection to close after its answer. */
  #close = false;
  #chunked = false;
  /** A request is under way: what comes next waits in `#pending` (its body goes on at once). */
  #busy = false;
  #pending: Buffer | null = null;
  #body: FloorBody | undefined = undefined;

  constructor(client: Socket) {
    this.#client = client;
    this.#parser = new RequestParser(this, LIMITS);
    client.on('error', () => client.destroy());
    const read = (data: Buffer) => {
      if (this.#busy && this.#parser.complete)
        this.#pending = this.#pending === null ? own(data) : Buffer.concat([this.#pending, data]);
      else this.#feed(data);
    };
    if (!BATCHED || !takeAcceptedReads(client, read)) client.on('data', read);
  }

  onHead(head: RequestHead): void {
    this.#busy = true;
    this.#close = !head.keepAlive;
    const request = {
      method: head.method,
      target: head.target,
      headers: head.headers,
      clientAddress: this.#client.remoteAddress ?? '',
      protocol: head.versionMinor === 1 ? 'HTTP/1.1' : 'HTTP/1.0',
      hasBody: head.framing === 'length',
    };
    const port = isFail(head.target) ? DEAD : ORIGIN;
    this.#body = head.framing === 'chunked' ? undefined : forward(request, port, this);
    if (this.#body === undefined) this.#client.destroy();
  }

  onBody(chunk: Buffer): void {
    this.#body?.write(own(chunk));
  }

  onComplete(): void {}

  head(status: number, reason: string, fields: string[], framing: Framing, bodyless: boolean): void {
    // A length comes on in the upstream's own (normalised) Content-Length, as Candor passes it.
    this.#chunked = !bodyless && (framing === 'chunked' || framing === 'close');
    const after = `${this.#chunked ? 'transfer-encoding: chunked\r\n' : ''}${this.#close ? 'connection: close\r\n' : ''}`;
    this.#client.write(serializeAnswerHead(status, reason, fields, '', after), 'latin1');
  }

  body(chunk: Buffer): void {
    if (this.#chunked) this.#client.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
    this.#client.write(chunk);
    if (this.#chunked) this.#client.write('\r\n', 'latin1');
  }

  end(whole: boolean): void {
    if (!whole) return void this.#client.destroy();
    if (this.#chunked) this.#client.write('0\r\n\r\n', 'latin1');
  }

  cork(): void {
    if (BATCHED) corkUntilTurnEnd(this.#client);
    else this.#client.cork();
  }

  uncork(): void {
    if (!BATCHED) this.#client.uncork();
  }

  over(): void {
    this.#busy = false;
    this.#body = undefined;
    // An answer before the request's body was whole: the rest is not read, the connection closes.
    if (this.#close || !this.#parser.complete) return void this.#client.end();
    this.#parser.next();
    if (this.#pending !== null) this.#feed(this.#pending);
  }

  #feed(data: Buffer): void {
    this.#pending = null;
    if (this.#parser.execute(data) !== undefined) return void this.#client.destroy();
    if (this.#parser.leftover > 0) this.#pending = own(data.subarray(data.length - this.#parser.leftover));
  }
}

const accept = (client: Socket) => new Http1Client(client);
if (!BATCHED) createServer({ noDelay: true }, accept).listen(PORT, '127.0.0.1');
else
  for (let i = 0; i < 8; i++)
    createServer({ noDelay: true }, accept).listen({ port: PORT, host: '127.0.0.1', reusePort: true });
