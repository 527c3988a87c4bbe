// The contract's floor: the raw node:net ceiling (net-proxy.mjs, the same loop, the same idle
// list, the same corked writes) doing, besides, only what Candor's contract asks of every
// request, with Candor's own code for it: the strict request parser and the strict response
// parser (core/http1), the path in its normal form (proxy/route/request-path.ts, before any
// route could match it), the one head builder both ways (proxy/forward/request-headers.ts and
// response-headers.ts, core/http1/request-head.ts and response-head.ts), a request id and a
// traceparent (core/ids), and the access line (a RequestRecord written by logRequest through
// the gateway's logger and its batching writer). Nothing else of a gateway: no routes, no
// session or attempts, no timers or deadlines, no health, circuits, budgets or metrics. It
// relays what the bench sends (requests without a body; Content-Length, chunked and
// close-delimited responses); a request with a body, or one it cannot route, is cut.
// What it does a second is what any proxy keeping the contract's parsers, head builder and line
// can do here at most: bench/run.ts's `floor` row, read against the ceiling's.
import { connect, createServer, type Socket } from 'node:net';
import { DEFAULTS } from '../../src/core/config/defaults.ts';
import { serializeRequestHead } from '../../src/core/http1/request-head.ts';
import { type RequestHead, RequestParser } from '../../src/core/http1/request-parser.ts';
import { serializeResponseHead } from '../../src/core/http1/response-head.ts';
import { type ResponseHead, ResponseParser } from '../../src/core/http1/response-parser.ts';
import { newRequestId } from '../../src/core/ids/ids.ts';
import { continueOrStartTrace } from '../../src/core/ids/traceparent.ts';
import { logRequest } from '../../src/observe/log/access-log.ts';
import { createLogger } from '../../src/observe/log/logger.ts';
import { RequestRecord } from '../../src/observe/log/request-record.ts';
import { buildUpstreamHeaders } from '../../src/proxy/forward/request-headers.ts';
import { buildDownstreamHead } from '../../src/proxy/forward/response-headers.ts';
import { routedPath } from '../../src/proxy/route/request-path.ts';

const [PORT, ORIGIN, DEAD] = ['PORT', 'ORIGIN_PORT', 'DEAD_PORT'].map((k) => Number(process.env[k]));
const logger = createLogger({ level: 'info', destination: process.env.ACCESS_LOG ?? '/dev/null' }, 'floor');
const LIMITS = { headerSize: DEFAULTS.limits.headerSize, uriLength: DEFAULTS.limits.uriLength };
const PATHS = { normalize: true, mergeSlashes: true };
const VIA = '1.1 floor';
const BAD_GATEWAY = 'HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n';
const idle: Record<number, Upstream[]> = { [ORIGIN]: [], [DEAD]: [] };
const isFail = (url: string) => url === '/fail' || url.startsWith('/fail/') || url.startsWith('/fail?');

/** One request in flight: its record, and the client's connection and what it asked. */
interface Exchange {
  readonly client: Socket;
  readonly record: RequestRecord;
  readonly close: boolean;
  readonly head: boolean;
  done(reusable: boolean): void;
}

/** An upstream connection with its one strict response parser, relaying to the exchange it serves. */
class Upstream {
  readonly socket: Socket;
  readonly parser = new ResponseParser(this, DEFAULTS.limits.headerSize);
  exchange: Exchange | undefined;
  #chunked = false;
  #keepAlive = false;

  constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (data: Buffer) => {
      const x = this.exchange;
      if (x === undefined) return socket.destroy();
      x.client.cork();
      const failure = this.parser.execute(data);
      x.client.uncork();
      if (failure !== undefined) this.#end(false);
    });
    socket.on('end', () => {
      if (this.exchange === undefined) return;
      this.exchange.client.cork();
      const ended = this.parser.finish();
      this.exchange?.client.uncork();
      if (ended !== 'complete') this.#end(false);
    });
    socket.on('close', () => this.exchange !== undefined && this.#end(false));
  }

  onHead(head: ResponseHead): void {
    const x = this.exchange as Exchange;
    x.record.status = head.status;
    x.record.ttfbMs = x.record.elapsed();
    this.#keepAlive = head.keepAlive && head.framing !== 'close';
    this.#chunked = head.framing === 'chunked' || head.framing === 'close';
    const fields = buildDownstreamHead(head.headers, x.record.id, VIA, undefined, false);
    // A length comes on in the upstream's own (normalised) Content-Length, as Candor passes it.
    const framing = this.#chunked ? 'transfer-encoding: chunked\r\n' : '';
    const after = x.close ? `${framing}connection: close\r\n` : framing;
    x.client.write(serializeResponseHead(head.status, head.reason, fields, '', after), 'latin1');
  }

  onBody(chunk: Buffer): void {
    const x = this.exchange as Exchange;
    x.record.bytesOut += chunk.length;
    if (x.head) return;
    if (this.#chunked) x.client.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
    x.client.write(chunk);
    if (this.#chunked) x.client.write('\r\n', 'latin1');
  }

  onComplete(): void {
    if (this.#chunked) this.exchange?.client.write('0\r\n\r\n', 'latin1');
    this.#end(this.#keepAlive);
  }

  #end(whole: boolean): void {
    const x = this.exchange as Exchange;
    this.exchange = undefined;
    const { record } = x;
    const error = whole ? undefined : 'http_response_incomplete';
    record.tries.push({
      target: record.target as string,
      status: record.status,
      error,
      stage: undefined,
      ms: record.elapsed(),
    });
    if (!whole) x.client.destroy();
    x.done(whole);
  }
}

function upstream(target: number, ready: (up: Upstream, reused: boolean) => void, fail: () => void): void {
  const kept = idle[target].pop();
  if (kept !== undefined) return ready(kept, true);
  const socket = connect(target, '127.0.0.1', () => {
    socket.off('error', fail).on('error', () => {});
    ready(new Upstream(socket), false);
  });
  socket.setNoDelay(true).once('error', fail);
}

createServer({ noDelay: true }, (client) => {
  let pending: Buffer | null = null;
  let busy = false;
  const handler = {
    onHead(head: RequestHead): void {
      busy = true;
      const { method, target, headers } = head;
      const routed = routedPath(target, target, PATHS);
      if (head.framing !== 'none' || !('path' in routed)) return void client.destroy();
      let host = '';
      let traceparent: string | undefined;
      for (let i = 0; i < headers.length; i += 2) {
        const name = headers[i].toLowerCase();
        if (name === 'host') host = headers[i + 1];
        else if (name === 'traceparent') traceparent = headers[i + 1];
      }
      const trace = continueOrStartTrace(traceparent);
      const record = new RequestRecord(
        newRequestId(),
        trace,
        client.remoteAddress ?? '',
        method,
        host,
        target,
      );
      if (routed.path !== target) record.upstreamPath = routed.path;
      record.protocol = head.versionMinor === 1 ? 'HTTP/1.1' : 'HTTP/1.0';
      record.route = 'bench';
      record.upstream = 'origin';
      const port = isFail(target) ? DEAD : ORIGIN;
      record.target = `127.0.0.1:${port}`;
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
      const upstreamHead = serializeRequestHead(
        { method, path: routed.path, headers: fields, body: { kind: 'none' } },
        host,
      );
      const exchange: Exchange = {
        client,
        record,
        close: !head.keepAlive,
        head: method === 'HEAD',
        done(reusable) {
          if (reusable && idle[port].length < 256) idle[port].push(up as Upstream);
          else up?.socket.destroy();
          logRequest(logger, record);
          busy = false;
          if (exchange.close) client.end();
          else {
            parser.next();
            if (pending !== null) feed(pending);
          }
        },
      };
      let up: Upstream | undefined;
      upstream(
        port,
        (ready, reused) => {
          up = ready;
          record.reusedConnection = reused;
          ready.exchange = exchange;
          ready.parser.expect(exchange.head);
          ready.socket.write(upstreamHead, 'latin1');
        },
        () => {
          record.status = 502;
          client.write(BAD_GATEWAY, 'latin1');
          exchange.done(false);
        },
      );
    },
    onBody(): void {},
    onComplete(): void {},
  };
  const parser = new RequestParser(handler, LIMITS);
  const feed = (data: Buffer) => {
    pending = null;
    const refused = parser.execute(data);
    if (refused !== undefined) return client.destroy();
    if (parser.leftover > 0) pending = data.subarray(data.length - parser.leftover);
  };
  client.on('error', () => client.destroy());
  client.on('data', (data: Buffer) => {
    if (busy) pending = pending === null ? data : Buffer.concat([pending, data]);
    else feed(data);
  });
}).listen(PORT, '127.0.0.1');
