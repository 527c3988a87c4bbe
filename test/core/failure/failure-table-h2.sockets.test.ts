/**
 * The failure table again, for a client on HTTP/2 (a listener with `http2: true`, h2c with prior
 * knowledge) and for a gRPC client on it: each row's real misbehaving upstream, one HTTP/2 GET
 * and one gRPC call on the same connection. The HTTP/2 answer is the HTTP/1.1 one (status,
 * Proxy-Status, negotiated body, no-store, the request id); the gRPC one is Trailers-Only, its
 * grpc-status DESIGN's (UNAVAILABLE for unreachable, reset and garbage, DEADLINE_EXCEEDED for
 * every timeout), its grpc-message naming the type and the request id, with the same
 * Proxy-Status. The upstream gets each request once at most: the gRPC call is a POST.
 */
import assert from 'node:assert/strict';
import http2, { type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import { after, describe, test } from 'node:test';
import { percentDecodeGrpcMessage } from '../../../src/core/failure/grpc-answer.ts';
import { proxyStatusType } from '../../../src/core/failure/proxy-status.ts';
import type { FailureType } from '../../../src/core/failure/taxonomy.ts';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';
import { ROWS, upstreamOf } from './failure-rows.ts';

interface Answer {
  readonly headers: IncomingHttpHeaders;
  readonly trailers: IncomingHttpHeaders | undefined;
  readonly body: string;
  readonly rstCode: number | undefined;
}

function ask(session: ClientHttp2Session, fields: http2.OutgoingHttpHeaders, body?: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request(fields);
    let headers: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders | undefined;
    let text = '';
    const timer = setTimeout(() => reject(new Error('no answer within 5 s')), 5000);
    stream.on('response', (h) => {
      headers = h;
    });
    stream.on('trailers', (t) => {
      trailers = t;
    });
    stream.setEncoding('utf8');
    stream.on('data', (c: string) => {
      text += c;
    });
    stream.on('error', () => {});
    stream.on('close', () => {
      clearTimeout(timer);
      resolve({ headers, trailers, body: text, rstCode: stream.rstCode });
    });
    stream.end(body);
  });
}

/** A gRPC message frame: not compressed, its length, its bytes. */
const MESSAGE = Buffer.from([0, 0, 0, 0, 2, 0x08, 0x01]);

const ACCEPTS = ['application/problem+json', 'text/html;q=0.9, text/plain;q=0.5', 'text/plain'] as const;

describe('the failure table over HTTP/2 and to a gRPC client', () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  ROWS.forEach((row, i) => {
    test(row.name, async () => {
      const fault = (await row.start()) as Fault;
      cleanups.push(() => fault.close());
      const gw = await startTestGateway(
        singleUpstream(fault.url, { upstream: upstreamOf(row, fault) }),
        {},
        'http2: true',
      );
      cleanups.push(() => gw.close());
      const session = http2.connect(gw.url);
      session.on('error', () => {});
      cleanups.push(async () => void session.close());
      const registered = proxyStatusType(row.error as FailureType);
      // details is an sf-string: any printable ASCII, `"` and `\` escaped.
      const proxyStatus = new RegExp(
        `^edge-1; error=${registered}(;[^,]*)?; details="(?:[^"\\\\]|\\\\.)+"; next-hop="app"$`,
      );

      const accept = ACCEPTS[i % ACCEPTS.length];
      const plain = await ask(session, { ':path': '/orders/42?x=1', accept });
      const h = plain.headers;
      assert.equal(h[':status'], row.status);
      assert.match(String(h['proxy-status']), proxyStatus);
      if (row.param) assert.match(String(h['proxy-status']), row.param);
      assert.equal(h['cache-control'], 'no-store');
      assert.equal(h['x-content-type-options'], 'nosniff');
      assert.equal(h['retry-after'], undefined);
      const id = String(h['x-request-id']);
      assert.match(id, /^[0-9a-f-]{36}$/);
      assert.equal(Number(h['content-length']), Buffer.byteLength(plain.body));
      if (accept === 'application/problem+json') {
        assert.equal(h['content-type'], 'application/problem+json');
        const problem = JSON.parse(plain.body);
        assert.equal(problem.status, row.status);
        assert.equal(problem.error, row.error);
        assert.equal(problem.request_id, id);
        assert.equal(problem.next_hop, 'app');
      } else if (accept.startsWith('text/html')) {
        assert.equal(h['content-type'], 'text/html; charset=utf-8');
        assert.match(plain.body, new RegExp(`<span class="code">${row.status}</span>`));
        assert.ok(plain.body.includes(id));
      } else {
        assert.equal(h['content-type'], 'text/plain; charset=utf-8');
        assert.ok(plain.body.includes(`error: ${row.error} (${row.shape})`));
        assert.ok(plain.body.includes(`request id: ${id}`));
      }
      const plainLine = await gw.logFor(id);
      assert.equal(plainLine.protocol, 'HTTP/2');
      assert.equal(plainLine.status, row.status);
      assert.equal(plainLine.error, row.error);

      const call = await ask(
        session,
        { ':method': 'POST', ':path': '/pkg.Orders/Get', 'content-type': 'application/grpc', te: 'trailers' },
        MESSAGE,
      );
      const g = call.headers;
      assert.equal(g[':status'], 200, 'a gRPC client reads grpc-status, never the HTTP status');
      assert.equal(g['content-type'], 'application/grpc');
      // DESIGN: UNAVAILABLE for unreachable, reset and garbage; DEADLINE_EXCEEDED for every timeout.
      assert.equal(g['grpc-status'], row.status === 504 ? '4' : '14');
      const callId = String(g['x-request-id']);
      assert.match(callId, /^[0-9a-f-]{36}$/);
      assert.notEqual(callId, id);
      assert.match(
        percentDecodeGrpcMessage(String(g['grpc-message'])),
        // DESIGN: the RFC 9209 type Proxy-Status names first, then Candor's finer one where it has one.
        new RegExp(
          `^${registered}${registered === row.error ? '' : ` \\(${row.error}\\)`}: .+ \\(request id ${callId}\\)$`,
        ),
      );
      assert.match(String(g['proxy-status']), proxyStatus);
      assert.equal(g['cache-control'], 'no-store');
      assert.equal(g['retry-after'], undefined);
      assert.equal(call.body, '', 'Trailers-Only: no body');
      assert.equal(call.trailers, undefined, 'Trailers-Only: one HEADERS frame');
      assert.equal(call.rstCode, http2.constants.NGHTTP2_NO_ERROR);
      const callLine = await gw.logFor(callId);
      assert.equal(callLine.protocol, 'HTTP/2');
      assert.equal(callLine.status, row.status);
      assert.equal(callLine.error, row.error);
      assert.equal(callLine.grpc_status, row.status === 504 ? 4 : 14);
      assert.equal(callLine.stage, row.stage ?? (row.reached ? 'sent' : 'not_sent'));

      const received = (fault.received ?? []) as readonly { method: string; path: string }[];
      if (row.reached) {
        assert.deepEqual(
          received.map((r) => `${r.method} ${r.path}`),
          ['GET /orders/42?x=1', 'POST /pkg.Orders/Get'],
          'each request reached the upstream once: the gRPC call, a POST that reached it, is never sent again',
        );
      } else {
        assert.equal(received.length, 0, 'nothing reached the upstream');
      }
    });
  });
});
