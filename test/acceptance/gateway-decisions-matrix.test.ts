/**
 * The gateway's own decisions of DESIGN.md's failure table (an open circuit, a full pool, a queue
 * wait expired, load shed, maintenance, a rate limit, an IP refused, a credential refused) crossed
 * with how a client asks: pipelined between two good requests (answered in order, the connection
 * kept), a pipelined HEAD (the GET's fields, no body), an absolute-form target, HTTP/1.0 without
 * Host (closed), HTTP/2 GET and HEAD, a gRPC call (Trailers-Only), and an Accept that refuses
 * every type (plain text, the documented fallback). The upstream faults' rows are held by
 * test/core/failure/failure-table*.sockets.test.ts; this is the rest of the matrix.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { percentDecodeGrpcMessage } from '../../src/core/failure/grpc-answer.ts';
import type { Fault } from '../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../src/kits/fault-kit/http-servers.ts';
import { startBlackhole } from '../../src/kits/fault-kit/slow-faults.ts';
import { startRefusing } from '../../src/kits/fault-kit/unreachable-faults.ts';
import { parseProxyStatus } from '../helpers/gateway-error.ts';
import { closeAfterAll } from '../helpers/keep.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';

const keep = closeAfterAll();

interface Cell {
  readonly name: string;
  readonly path: string;
  readonly status: number;
  readonly error: string;
  /** Retry-After's value, a pattern where it counts down; null where none is due. */
  readonly retryAfter: RegExp | null;
  /** Proxy-Status's next-hop; null for a refusal about the client alone (README: "Which hop next-hop names"). */
  readonly nextHop: string | null;
  readonly grpc: number;
}

const CELLS: readonly Cell[] = [
  {
    name: 'an open circuit',
    path: '/circuit',
    status: 503,
    error: 'destination_unavailable',
    retryAfter: /^(5\d|60)$/,
    nextHop: 'circuit',
    grpc: 14,
  },
  {
    name: 'a full pool, no queue',
    path: '/pool',
    status: 503,
    error: 'connection_limit_reached',
    retryAfter: /^1$/,
    nextHop: 'pool',
    grpc: 14,
  },
  {
    name: 'a queue wait expired',
    path: '/queue',
    status: 503,
    error: 'connection_limit_reached',
    retryAfter: /^1$/,
    nextHop: 'queue',
    grpc: 14,
  },
  {
    name: "a route's load shed",
    path: '/shed',
    status: 503,
    error: 'proxy_internal_response',
    retryAfter: /^1$/,
    nextHop: 'shed',
    grpc: 14,
  },
  {
    name: 'maintenance',
    path: '/maint',
    status: 503,
    error: 'proxy_internal_response',
    retryAfter: /^30$/,
    nextHop: 'ok',
    grpc: 14,
  },
  {
    name: 'a rate limit',
    path: '/rate',
    status: 429,
    error: 'http_request_denied',
    // 500 s a token, counting down: three digits all the test long, so a GET's body and its HEAD's
    // Content-Length agree across a second's turn (at 1000 s a token, 1000 then 999 did not).
    retryAfter: /^(4\d\d|500)$/,
    nextHop: 'ok',
    grpc: 8,
  },
  {
    name: 'an IP denied',
    path: '/deny',
    status: 403,
    error: 'http_request_denied',
    retryAfter: null,
    nextHop: null,
    grpc: 7,
  },
  {
    name: 'no credentials',
    path: '/auth',
    status: 401,
    error: 'http_request_denied',
    retryAfter: null,
    nextHop: null,
    grpc: 16,
  },
];

let gw: TestGateway;
const hung: Fault[] = [];

before(async () => {
  const users = join(tempDir('candor-matrix-'), 'users');
  writeFileSync(users, `alice:${bcrypt.hashSync('a', 4)}\n`);
  const refused = await keep(startRefusing());
  const echo = await keep(startEcho());
  for (let i = 0; i < 3; i++) hung.push(await keep(startBlackhole()));
  const held = '    timeouts: { response: 60s, total: 60s }\n';
  gw = await keep(
    startTestGateway(
      `name: edge-1
routes:
  - { match: { path: /circuit }, upstream: circuit }
  - { match: { path: /pool }, upstream: pool }
  - { match: { path: /queue }, upstream: queue }
  - { match: { path: /shed }, upstream: shed, max_in_flight: 1 }
  - { match: { path: /maint }, upstream: ok, maintenance: { retry_after: 30s } }
  - { match: { path: /rate }, upstream: ok, rate_limit: { rate: 0.002, burst: 1 } }
  - { match: { path: /deny }, upstream: ok, deny: [127.0.0.1] }
  - { match: { path: /auth }, upstream: ok, auth: { basic: { users_file: ${users} } } }
  - { match: { path: /ok }, upstream: ok }
upstreams:
  circuit:
    targets: [{ url: ${refused.url} }]
    retries: { attempts: 1 }
    circuit_breaker: { consecutive_failures: 1, open_time: 60s }
  pool:
    targets: [{ url: ${hung[0].url} }]
    pool: { max_connections: 1, max_pending: 0 }
${held}  queue:
    targets: [{ url: ${hung[1].url} }]
    pool: { max_connections: 1, max_pending: 10, queue_timeout: 100ms }
${held}  shed:
    targets: [{ url: ${hung[2].url} }]
${held}  ok:
    targets: [{ url: ${echo.url} }]
`,
      {},
      'http2: true',
    ),
  );
  // Each decision's state: a request held on each hung upstream (its one connection, its route's
  // one slot), a refusal that opens the circuit, the rate limit's one token spent.
  const holders: net.Socket[] = [];
  await keep({
    close: async () => {
      for (const socket of holders) socket.destroy();
    },
  });
  for (const [i, path] of ['/pool', '/queue', '/shed'].entries()) {
    const socket = net.connect(gw.port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    holders.push(socket);
    await hung[i].waitForRequest(1);
  }
  assert.match(
    (await exchange('GET /circuit HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).text,
    /^HTTP\/1\.1 502 /,
  );
  assert.match(
    (await exchange('GET /rate HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).text,
    /^HTTP\/1\.1 200 /,
  );
});

/** Writes `bytes` on a new connection and reads until the gateway closes it. */
function exchange(bytes: string): Promise<{ text: string; ended: 'fin' | 'reset' }> {
  return new Promise((resolve) => {
    const socket = net.connect(gw.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => resolve({ text: Buffer.concat(chunks).toString('latin1'), ended: 'fin' }));
    socket.on('error', () => resolve({ text: Buffer.concat(chunks).toString('latin1'), ended: 'reset' }));
    socket.write(bytes);
  });
}

interface Answer {
  readonly line: string;
  readonly fields: Map<string, string[]>;
  readonly body: string;
}

/** The answers in `text`, each read by its Content-Length (none for a HEAD's). */
function answers(text: string, heads: readonly boolean[]): Answer[] {
  const out: Answer[] = [];
  let at = 0;
  for (const head of heads) {
    const end = text.indexOf('\r\n\r\n', at);
    if (end < 0) break;
    const [line, ...lines] = text.slice(at, end).split('\r\n');
    const fields = new Map<string, string[]>();
    for (const l of lines) {
      const name = l.slice(0, l.indexOf(':')).toLowerCase();
      fields.set(name, [...(fields.get(name) ?? []), l.slice(l.indexOf(':') + 1).trim()]);
    }
    const length = head ? 0 : Number(fields.get('content-length')?.[0] ?? 0);
    out.push({ line, fields, body: text.slice(end + 4, end + 4 + length) });
    at = end + 4 + length;
  }
  assert.equal(at, text.length, 'nothing after the last answer');
  return out;
}

const one = (a: Answer, name: string) => {
  const values = a.fields.get(name) ?? [];
  assert.ok(values.length <= 1, `${name} once`);
  return values[0];
};

/** DESIGN's contract for a gateway-made answer; the request id returned. */
async function assertContract(cell: Cell, a: Answer, media: string, head = false): Promise<string> {
  assert.equal(Number(/^HTTP\/1\.1 (\d{3}) /.exec(a.line)?.[1] ?? a.line), cell.status, a.line);
  const entry = parseProxyStatus(one(a, 'proxy-status'));
  assert.equal(entry.proxy, 'edge-1');
  assert.equal(entry.error, cell.error);
  assert.ok((entry.details ?? '').length > 0, 'details');
  assert.equal(entry.nextHop, cell.nextHop ?? undefined);
  assert.equal(one(a, 'cache-control'), 'no-store');
  const retryAfter = one(a, 'retry-after');
  if (cell.retryAfter === null) assert.equal(retryAfter, undefined);
  else assert.match(String(retryAfter), cell.retryAfter);
  if (cell.status === 401) assert.match(String(one(a, 'www-authenticate')), /^Basic realm=/);
  assert.equal(one(a, 'content-type'), media);
  const id = String(one(a, 'x-request-id'));
  assert.match(id, /^[0-9a-f-]{36}$/);
  if (head) assert.equal(a.body, '');
  else {
    assert.equal(Number(one(a, 'content-length')), Buffer.byteLength(a.body, 'latin1'));
    if (media === 'application/problem+json') {
      const problem = JSON.parse(a.body);
      assert.equal(problem.status, cell.status);
      assert.equal(problem.type, `urn:candor:error:${cell.error}`);
      assert.equal(typeof problem.title, 'string');
      assert.equal(typeof problem.detail, 'string');
      assert.equal(problem.request_id, id);
    } else assert.ok(a.body.includes(`request id: ${id}`), a.body);
  }
  const line = await gw.logFor(id);
  assert.equal(line.req_id, id);
  assert.equal(line.status, cell.status);
  return id;
}

const JSON_TYPE = 'application/problem+json';
const TEXT_TYPE = 'text/plain; charset=utf-8';

describe('the gateway’s own decisions, however the client asks', () => {
  for (const cell of CELLS) {
    test(`${cell.name}: pipelined GET and HEAD between good ones, in order, the connection kept`, async () => {
      const got = await exchange(
        'GET /ok HTTP/1.1\r\nHost: x\r\n\r\n' +
          `GET ${cell.path} HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n` +
          `HEAD ${cell.path} HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n` +
          'GET /ok?after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      );
      const [first, get, head, last] = answers(got.text, [false, false, true, false]);
      assert.match(first.line, /^HTTP\/1\.1 200 /);
      await assertContract(cell, get, JSON_TYPE);
      await assertContract(cell, head, JSON_TYPE, true);
      assert.equal(one(get, 'connection'), 'keep-alive');
      const names = (a: Answer) => [...a.fields.keys()].filter((k) => k !== 'date');
      assert.deepEqual(names(head), names(get), "the HEAD's fields are the GET's");
      assert.equal(one(head, 'content-length'), one(get, 'content-length'));
      assert.match(last.line, /^HTTP\/1\.1 200 /);
      assert.equal(got.ended, 'fin');
    });

    test(`${cell.name}: an absolute-form target, and an Accept that refuses every type (plain text)`, async () => {
      const got = await exchange(
        `GET http://gw.test${cell.path} HTTP/1.1\r\nHost: gw.test\r\nAccept: */*;q=0\r\nConnection: close\r\n\r\n`,
      );
      const [a] = answers(got.text, [false]);
      await assertContract(cell, a, TEXT_TYPE);
      assert.equal(one(a, 'connection'), 'close');
    });

    test(`${cell.name}: HTTP/1.0 without Host, keep-alive asked: the answer, Connection: close, closed`, async () => {
      const got = await exchange(
        `GET ${cell.path} HTTP/1.0\r\nConnection: keep-alive\r\nAccept: text/plain;q=0\r\n\r\n`,
      );
      const [a] = answers(got.text, [false]);
      await assertContract(cell, a, TEXT_TYPE);
      assert.equal(one(a, 'connection'), 'close');
      assert.equal(got.ended, 'fin');
    });

    test(`${cell.name}: HTTP/2 GET and HEAD, and a gRPC call's Trailers-Only answer`, async () => {
      const session = http2.connect(gw.url);
      session.on('error', () => {});
      try {
        const ask = (fields: http2.OutgoingHttpHeaders, body?: Buffer) =>
          new Promise<{ h: http2.IncomingHttpHeaders; body: string; trailers: boolean }>(
            (resolve, reject) => {
              const stream = session.request(fields, { endStream: body === undefined });
              let h: http2.IncomingHttpHeaders = {};
              let text = '';
              let trailers = false;
              stream.on('response', (x) => {
                h = x;
              });
              stream.on('trailers', () => {
                trailers = true;
              });
              stream.setEncoding('latin1');
              stream.on('data', (c: string) => {
                text += c;
              });
              stream.on('error', reject);
              stream.on('close', () => resolve({ h, body: text, trailers }));
              if (body !== undefined) stream.end(body);
            },
          );
        const asAnswer = (r: { h: http2.IncomingHttpHeaders; body: string }): Answer => ({
          line: String(r.h[':status']),
          fields: new Map(
            Object.entries(r.h)
              .filter(([k]) => !k.startsWith(':'))
              .map(([k, v]) => [k, Array.isArray(v) ? v : [String(v)]]),
          ),
          body: r.body,
        });
        const get = await ask({ ':path': cell.path, accept: 'application/json' });
        const head = await ask({ ':path': cell.path, ':method': 'HEAD', accept: 'application/json' });
        await assertContract(cell, asAnswer(get), JSON_TYPE);
        await assertContract(cell, asAnswer(head), JSON_TYPE, true);
        assert.equal(head.h['content-length'], get.h['content-length']);

        const call = await ask(
          {
            ':method': 'POST',
            ':path': `${cell.path}/pkg.Svc/Call`,
            'content-type': 'application/grpc',
            te: 'trailers',
          },
          Buffer.from([0, 0, 0, 0, 0]),
        );
        const g = call.h;
        assert.equal(g[':status'], 200);
        assert.equal(g['content-type'], 'application/grpc');
        assert.equal(g['grpc-status'], String(cell.grpc));
        const id = String(g['x-request-id']);
        assert.match(
          percentDecodeGrpcMessage(String(g['grpc-message'])),
          new RegExp(`^${cell.error}: .+ \\(request id ${id}\\)$`),
        );
        assert.equal(parseProxyStatus(g['proxy-status']).error, cell.error);
        assert.equal(g['cache-control'], 'no-store');
        if (cell.retryAfter === null) assert.equal(g['retry-after'], undefined);
        else {
          assert.match(String(g['retry-after']), cell.retryAfter);
          assert.equal(g['grpc-retry-pushback-ms'], String(Number(g['retry-after']) * 1000));
        }
        assert.equal(call.body, '', 'Trailers-Only: no body');
        assert.equal(call.trailers, false, 'Trailers-Only: one HEADERS frame');
        const line = await gw.logFor(id);
        assert.equal(line.status, cell.status);
        assert.equal(line.grpc_status, cell.grpc);
      } finally {
        session.close();
      }
    });
  }
});
