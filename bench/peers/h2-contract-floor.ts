// The contract's floor for HTTP/2: the HTTP/2 ceiling (h2-net-proxy.mjs: node:http2's server,
// TLS with ALPN h2 when TLS_CERT and TLS_KEY are set, else h2c) doing, besides, only what
// Candor's contract asks of every request, with Candor's own code for it: the stream's head read
// and checked as Candor's HTTP/2 listener does (h2RequestHead, h2Refusal), the head answered as
// its HTTP/2 sink builds it (h2Head), and in floor-upstream.ts the strict response parser, the
// normal path, the one head builder both ways, the id and traceparent, and the access line. What
// it does a second is the most a gateway keeping the contract does here over HTTP/2: bench/h2.ts's
// `floor` row, read against the ceiling's. GET and HEAD without a body only (others are reset).
import { readFileSync } from 'node:fs';
import http2, { type ServerHttp2Stream } from 'node:http2';
import { DEFAULTS } from '../../src/core/config/defaults.ts';
import { h2Head } from '../../src/proxy/accept/h2/h2-answer-fields.ts';
import { h2Refusal, h2RequestHead } from '../../src/proxy/accept/h2/h2-request.ts';
import { type FloorSink, forward } from './floor-upstream.ts';

const [PORT, ORIGIN] = [Number(process.env.PORT), Number(process.env.ORIGIN_PORT)];
const { NGHTTP2_INTERNAL_ERROR, NGHTTP2_REFUSED_STREAM } = http2.constants;
const LIMITS = {
  uriLength: DEFAULTS.limits.uriLength,
  maxHeaderListSize: DEFAULTS.limits.http2.maxHeaderListSize,
  maxHeaderFields: DEFAULTS.limits.http2.maxHeaderFields,
};
const END_STREAM = Object.freeze({ endStream: true });
const OPEN_STREAM = Object.freeze({ endStream: false });

/** One response to an HTTP/2 stream, its head as Candor's HTTP/2 sink builds it. */
class H2Sink implements FloorSink {
  readonly #stream: ServerHttp2Stream;

  constructor(stream: ServerHttp2Stream) {
    this.#stream = stream;
  }

  head(status: number, _reason: string, fields: string[], _framing: unknown, bodyless: boolean): void {
    // A client gone meanwhile (h2load closing at the end of its run): the response is read and dropped.
    if (!this.#stream.destroyed)
      this.#stream.respond(h2Head(status, fields), bodyless ? END_STREAM : OPEN_STREAM);
  }

  body(chunk: Buffer): void {
    if (!this.#stream.destroyed) this.#stream.write(chunk);
  }

  end(whole: boolean): void {
    if (this.#stream.destroyed) return;
    if (!whole) this.#stream.close(NGHTTP2_INTERNAL_ERROR);
    else if (!this.#stream.writableEnded) this.#stream.end();
  }

  cork(): void {}
  uncork(): void {}
  /** A stream is its request's alone: nothing waits for its answer. */
  over(): void {}
}

const { TLS_CERT, TLS_KEY } = process.env;
const server =
  TLS_CERT && TLS_KEY
    ? http2.createSecureServer({ cert: readFileSync(TLS_CERT), key: readFileSync(TLS_KEY) })
    : http2.createServer();
function onStream(stream: ServerHttp2Stream, _headers: unknown, flags: number, raw: string[]): void {
  stream.on('error', () => {});
  const socket = stream.session?.socket;
  const facts = {
    remoteAddress: socket?.remoteAddress ?? '',
    encrypted: TLS_CERT !== undefined,
    sni: {},
    clientCertificate: undefined,
  };
  const endStream = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
  const head = h2RequestHead(raw, stream.id ?? 0, endStream, facts);
  const refused = h2Refusal(raw, head, LIMITS);
  const request = {
    method: head.method,
    target: head.target,
    headers: head.headers,
    clientAddress: head.remoteAddress,
    protocol: 'HTTP/2',
    hasBody: false,
  };
  if (refused !== undefined || !endStream || forward(request, ORIGIN, new H2Sink(stream)) === undefined)
    stream.close(NGHTTP2_REFUSED_STREAM);
}
server.on('stream', onStream);
server.listen(PORT, '127.0.0.1');
