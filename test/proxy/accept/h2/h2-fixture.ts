/**
 * Shared by the downstream HTTP/2 tests: a plain listener that tells h2c from HTTP/1.1 by the
 * preface (and a TLS one that goes by ALPN), Candor's HTTP/2 server and its HTTP/1.1 server
 * behind it, a tiny echo session on both, and the bound events the server logged.
 */
import net, { type AddressInfo } from 'node:net';
import tls from 'node:tls';
import { DEFAULTS } from '../../../../src/core/config/defaults.ts';
import type { Failure } from '../../../../src/core/failure/failure.ts';
import type { RequestParseError } from '../../../../src/core/http1/parsed-request.ts';
import type { DownstreamExchange } from '../../../../src/core/net/downstream.ts';
import { testCertificates } from '../../../../src/kits/fault-kit/tls-certs.ts';
import type { H2BoundEvent } from '../../../../src/proxy/accept/h2/h2-bound.ts';
import { type H2Limits, h2Limits } from '../../../../src/proxy/accept/h2/h2-limits.ts';
import { H2_ALPN_PROTOCOLS, pickByAlpn, pickByPreface } from '../../../../src/proxy/accept/h2/h2-preface.ts';
import { createH2Server, type H2Server } from '../../../../src/proxy/accept/h2/h2-server.ts';
import { createHttp1Server } from '../../../../src/proxy/accept/http1/http1-server.ts';

export type Handle = (exchange: DownstreamExchange) => void;

/**
 * Reads the whole body, then answers 200 with what it was asked, as JSON (with
 * `bodyComplete` as the exchange said it once the body ended), and an `x-body-bytes` trailer.
 */
export const echo: Handle = (exchange) => {
  const chunks: Buffer[] = [];
  const answer = () => {
    const body = Buffer.from(
      JSON.stringify({
        method: exchange.head.method,
        target: exchange.head.target,
        headers: exchange.head.headers,
        bodyLength: exchange.head.bodyLength ?? null,
        encrypted: exchange.head.encrypted,
        protocol: exchange.head.protocol,
        hasBody: exchange.body !== undefined,
        bodyComplete: exchange.bodyComplete,
        body: Buffer.concat(chunks).toString(),
        trailers: (exchange.body as { trailers?: string[] } | undefined)?.trailers ?? [],
      }),
    );
    exchange.answer.sendHead(200, 'OK', [
      'content-type',
      'application/json',
      'content-length',
      String(body.length),
    ]);
    exchange.answer.write(body);
    exchange.answer.end(['x-body-bytes', String(Buffer.concat(chunks).length)]);
  };
  if (exchange.body === undefined) return answer();
  exchange.body.on('data', (c: Buffer) => chunks.push(c));
  exchange.body.on('error', () => exchange.answer.abort());
  exchange.body.on('end', answer);
};

export interface H2Fixture {
  readonly port: number;
  readonly h2: H2Server;
  readonly logged: H2BoundEvent[];
  /** Streams refused before an exchange ran. */
  readonly refusals: RequestParseError[];
  /** Exchanges handed over, in order. */
  readonly exchanges: DownstreamExchange[];
  /** For `tls`: the CA a client trusts. */
  readonly ca: string | undefined;
  close(): Promise<void>;
}

export async function startH2Fixture(
  options: {
    limits?: Partial<H2Limits>;
    handle?: Handle;
    tls?: boolean;
    prefaceTimeoutMs?: number;
    /** `limits.header_timeout` for the HTTP/2 server: the time a client has to send its SETTINGS. */
    headerTimeoutMs?: number;
  } = {},
): Promise<H2Fixture> {
  const logged: H2BoundEvent[] = [];
  const exchanges: DownstreamExchange[] = [];
  const handle = options.handle ?? echo;
  const refusals: RequestParseError[] = [];
  const handlers = {
    request(exchange: DownstreamExchange) {
      exchanges.push(exchange);
      handle(exchange);
    },
    /** Answers the refusal's status with its code in a header, as the session's error answer would. */
    refused(exchange: DownstreamExchange, error: RequestParseError) {
      refusals.push(error);
      exchange.answer.sendHead(error.status, '', ['x-refused', error.code]);
      exchange.answer.end();
    },
    overLimit(exchange: DownstreamExchange, failure: Failure) {
      exchange.answer.sendHead(failure.status, '', ['x-refused', failure.type]);
      exchange.answer.end();
    },
    headerTimeout: () => options.headerTimeoutMs ?? DEFAULTS.limits.headerTimeout,
  };
  const h2 = createH2Server({ ...h2Limits(DEFAULTS.limits), ...options.limits }, handlers, {
    bound: (event) => logged.push(event),
  });
  const http1 = createHttp1Server(
    () => ({
      headerSize: 8192,
      uriLength: 1024,
      headerTimeout: 2000,
      bodyIdleTimeout: 2000,
      keepAliveTimeout: 2000,
    }),
    { request: handlers.request, refused: (connection) => connection.socket.destroy() },
  );
  const takers = {
    h2: (socket: net.Socket) => h2.accept(socket),
    // The HTTP/1.1 server's own accept runs on its 'connection' event.
    http1: (socket: net.Socket) => http1.server.emit('connection', socket),
  };
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  let server: net.Server;
  let ca: string | undefined;
  if (options.tls) {
    const certs = testCertificates();
    ca = certs.ca;
    server = tls.createServer(
      { cert: certs.localhost.cert, key: certs.localhost.key, ALPNProtocols: H2_ALPN_PROTOCOLS },
      (socket) => {
        track(socket);
        pickByAlpn(socket, takers);
      },
    );
  } else
    server = net.createServer((socket) => {
      track(socket);
      pickByPreface(socket, takers, options.prefaceTimeoutMs ?? DEFAULTS.limits.headerTimeout);
    });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    h2,
    logged,
    refusals,
    exchanges,
    ca,
    async close() {
      h2.destroyAll('deadline');
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
