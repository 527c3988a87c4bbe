/**
 * Candor's own HTTP/1.1 upstream client (src/core/http1/, src/upstream/connections/): connection reuse, the pool's
 * limits and queue, keep-alive decisions (Connection: close, the Keep-Alive hint, the idle
 * timeout, a response that ends while the request body is still going out), request
 * framing toward the upstream, 1xx, trailers and backpressure. Everything runs through a
 * real gateway against real upstream servers: node:http ones, or raw TCP scripts when the
 * bytes on the wire matter.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { describe, type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type EchoBody,
  patternBytes,
  startEcho,
  startIdleCloser,
} from '../../../src/kits/fault-kit/http-servers.ts';
import { type RawConnection, startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { rawRequest, request } from '../../helpers/http-client.ts';
import { poolOf, startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

// ── helpers ──────────────────────────────────────────────────────────────────────────

/**
 * One route `/` to upstream `app` (one target); `upstream` and `route` add indented YAML lines.
 * Request bodies stream as they arrive (request_buffering off): these tests are of the client
 * that carries them, mid-upload included.
 */
function config(url: string, options: { upstream?: string; route?: string } = {}): string {
  return `name: edge-1
routes:
  - match: { path: / }
    upstream: app
    request_buffering: false
${options.route ?? ''}
upstreams:
  app:
    targets:
      - url: ${url}
${options.upstream ?? ''}
`;
}

interface Closable {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * A gateway in front of `upstream`, both closed after the test: the upstream first, so that a
 * request still hanging on it ends (the gateway's close waits for in-flight requests).
 */
async function through(
  t: TestContext,
  upstream: Closable,
  options: { upstream?: string; route?: string } = {},
): Promise<TestGateway> {
  let gw: TestGateway | undefined;
  t.after(async () => {
    await upstream.close();
    await gw?.close();
  });
  gw = await startTestGateway(config(upstream.url, options));
  return gw;
}

/** Rejects with a message if `promise` is not settled within `ms` (a bound, never a measurement). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A node:http upstream that counts its TCP connections and how many are open (and busy) at once. */
interface CountingServer extends Closable {
  readonly port: number;
  /** 'connection' events so far. */
  readonly connections: number;
  /** Most connections open at the same time. */
  readonly maxOpen: number;
  /** Most requests being answered at the same time. */
  readonly maxInFlight: number;
  /** Per accepted socket (in accept order): resolves on the server-side 'close' event. */
  readonly closed: Promise<void>[];
  /** Requests in arrival order, with the 1-based number of the connection they came on. */
  readonly requests: { method: string; url: string; headers: http.IncomingHttpHeaders; connection: number }[];
}

async function startCounting(
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void,
): Promise<CountingServer> {
  const server = http.createServer();
  const sockets = new Map<Socket, number>();
  const state = {
    connections: 0,
    open: 0,
    maxOpen: 0,
    inFlight: 0,
    maxInFlight: 0,
    closed: [] as Promise<void>[],
    requests: [] as CountingServer['requests'],
  };
  server.on('connection', (socket: Socket) => {
    state.connections++;
    sockets.set(socket, state.connections);
    state.open++;
    state.maxOpen = Math.max(state.maxOpen, state.open);
    state.closed.push(
      new Promise((resolve) =>
        socket.once('close', () => {
          state.open--;
          sockets.delete(socket);
          resolve();
        }),
      ),
    );
  });
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    state.requests.push({
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      connection: sockets.get(req.socket) ?? 0,
    });
    state.inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    res.once('close', () => state.inFlight--);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get connections() {
      return state.connections;
    },
    get maxOpen() {
      return state.maxOpen;
    },
    get maxInFlight() {
      return state.maxInFlight;
    },
    closed: state.closed,
    requests: state.requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Answers every request on a raw connection, in order, with `respond(request index)`. */
function answerEach(respond: (index: number, method: string) => string) {
  return async (connection: RawConnection): Promise<void> => {
    for (;;) {
      const req = await connection.nextRequest({ body: true });
      await connection.write(respond(req.index, req.method));
    }
  };
}

const OK = (body: string) => `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

const echoed = (text: string): EchoBody => JSON.parse(text);

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** The body of a raw HTTP/1.1 exchange's last response (after its last blank line). */
const lastBody = (raw: string) => raw.slice(raw.lastIndexOf('\r\n\r\n') + 4);

// ── connection reuse ─────────────────────────────────────────────────────────────────

describe('connection reuse', () => {
  test('20 sequential GETs travel on one upstream connection; the log says reused after the first', async (t) => {
    const upstream = await startCounting((req, res) => res.end(`hello ${req.url}`));
    const gw = await through(t, upstream);
    for (let i = 1; i <= 20; i++) {
      const res = await request(gw.url, { path: `/r${i}`, headers: { 'x-request-id': `seq-${i}` } });
      assert.equal(res.status, 200);
      assert.equal(res.text, `hello /r${i}`);
    }
    assert.equal(upstream.connections, 1, 'one TCP connection carried all 20 requests');
    assert.deepEqual(
      upstream.requests.map((r) => r.connection),
      Array(20).fill(1),
    );
    const first = await gw.logFor('seq-1');
    assert.equal(first.reused, false);
    assert.equal(typeof first.connect_ms, 'number');
    assert.ok((first.connect_ms as number) > 0, 'the first request opened the connection');
    for (let i = 2; i <= 20; i++) {
      const line = await gw.logFor(`seq-${i}`);
      assert.equal(line.reused, true, `request ${i} reused the pooled connection`);
      assert.equal(line.connect_ms, 0);
      assert.equal(line.status, 200);
    }
  });

  test("a client's Connection: close closes the client's connection only: 5 such requests share one upstream connection, still open after them", async (t) => {
    const upstream = await startCounting((req, res) => res.end(`hello ${req.url}`));
    const gw = await through(t, upstream);
    const port = Number(new URL(gw.url).port);
    for (let i = 1; i <= 5; i++) {
      const res = await rawRequest(port, `GET /c${i} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
      assert.equal(res.status, 200);
      assert.ok(res.closed, `the gateway closed client connection ${i}`);
      assert.match(res.raw, /\r\nconnection: close\r\n/i);
      assert.match(res.raw, new RegExp(`hello /c${i}$`));
    }
    assert.equal(upstream.connections, 1, 'one upstream connection carried all 5 requests');
    assert.deepEqual(
      upstream.requests.map((r) => [r.url, r.connection, r.headers.connection]),
      [1, 2, 3, 4, 5].map((i) => [`/c${i}`, 1, undefined]),
      "the client's Connection: close did not reach the upstream (HTTP/1.1: persistent unless said)",
    );
    // Still pooled: the gateway did not close it after the last request.
    await sleep(50);
    assert.equal(upstream.maxOpen, 1);
    const state = await Promise.race([upstream.closed[0].then(() => 'closed'), sleep(100, 'open')]);
    assert.equal(state, 'open');
  });

  test('an upstream response with Connection: close is not reused, even if the upstream keeps the socket open', async (t) => {
    // The raw upstream never closes: only the gateway's keep-alive decision can stop a reuse.
    const fault = await startRawFault(
      answerEach((index) =>
        index === 1 ? 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nfirst' : OK('second'),
      ),
    );
    const gw = await through(t, fault);
    const a = await request(gw.url, { path: '/a', headers: { 'x-request-id': 'close-1' } });
    assert.equal(a.status, 200);
    assert.equal(a.text, 'first');
    const b = await request(gw.url, { path: '/b', headers: { 'x-request-id': 'close-2' } });
    assert.equal(b.status, 200);
    assert.equal(b.text, 'second');
    assert.equal(fault.connections, 2);
    assert.deepEqual(
      fault.received.map((r) => r.connection),
      [1, 2],
      'the second request went on a new connection',
    );
    assert.equal((await gw.logFor('close-2')).reused, false);
    const end = await within(fault.connectionLog[0].ended, 2000, 'first connection closed');
    assert.ok(end === 'fin' || end === 'reset', `the gateway closed the first connection (${end})`);
  });

  test('an upstream that closes after Connection: close (node:http): the next request opens a new connection', async (t) => {
    const fault = await startEcho();
    const gw = await through(t, fault);
    assert.equal((await request(gw.url, { path: '/?close=1' })).status, 200);
    const res = await request(gw.url, { path: '/next', headers: { 'x-request-id': 'after-close' } });
    assert.equal(res.status, 200);
    assert.equal(echoed(res.text).connection, 2);
    assert.equal((await gw.logFor('after-close')).reused, false);
  });
});

// ── the pool's limits and queue ──────────────────────────────────────────────────────

describe('pool limits', () => {
  test('max_connections 2: 6 concurrent requests all succeed on at most 2 upstream connections', async (t) => {
    const upstream = await startCounting((req, res) => {
      setTimeout(() => res.end(`done ${req.url}`), 200);
    });
    const gw = await through(t, upstream, { upstream: '    pool: { max_connections: 2 }' });
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        request(gw.url, { path: `/c${i}`, headers: { 'x-request-id': `conc-${i}` } }),
      ),
    );
    for (const [i, res] of results.entries()) {
      assert.equal(res.status, 200, `request ${i}`);
      assert.equal(res.text, `done /c${i}`);
    }
    assert.ok(upstream.maxOpen <= 2, `at most 2 connections open at once (saw ${upstream.maxOpen})`);
    assert.ok(
      upstream.maxInFlight <= 2,
      `at most 2 requests in flight at once (saw ${upstream.maxInFlight})`,
    );
    assert.equal(upstream.connections, 2, 'the queued requests went on the two pooled connections');
    assert.equal(upstream.requests.length, 6);
    const reused = await Promise.all(results.map((_, i) => gw.logFor(`conc-${i}`)));
    assert.equal(reused.filter((l) => l.reused === true).length, 4);
  });

  test('queue_timeout: a request queued behind a busy connection gets 503 connection_limit_reached', async (t) => {
    // The upstream takes the first request and never answers.
    const fault = await startRawFault(async (connection) => {
      await connection.nextRequest();
    });
    const gw = await through(t, fault, {
      upstream: '    pool: { max_connections: 1, queue_timeout: 200ms }\n    timeouts: { response: 5s }',
    });
    const hung = http.get(`${gw.url}/hang`, { agent: false });
    hung.on('error', () => {});
    t.after(() => hung.destroy());
    await fault.waitForRequest(1);

    const res = await request(gw.url, {
      path: '/queued',
      headers: { 'x-request-id': 'queued', accept: 'application/json' },
    });
    assert.equal(res.status, 503);
    assert.match(res.headers['proxy-status'] as string, /^edge-1; error=connection_limit_reached/);
    assert.equal(res.headers['retry-after'], '1');
    assert.equal(fault.received.length, 1, 'the queued request never reached the upstream');
    assert.equal(fault.connections, 1, 'no second connection was opened');
    const line = await gw.logFor('queued');
    assert.equal(line.status, 503);
    assert.equal(line.error, 'connection_limit_reached');
    assert.equal(line.stage, 'not_sent');
    // Nothing went upstream: no attempt (as when the queue is full at once); its wait is named.
    assert.equal(line.attempts, 0);
    assert.equal(line.target, fault.url.replace(/\/$/, ''));
    assert.equal(typeof line.queued_ms, 'number');
  });
  test('max_pending: with the connection busy and the queue full, a further request gets 503 at once', async (t) => {
    const fault = await startRawFault(async (connection) => {
      await connection.nextRequest();
    });
    const gw = await through(t, fault, {
      upstream:
        '    pool: { max_connections: 1, max_pending: 1, queue_timeout: 1s }\n    timeouts: { response: 5s }',
    });
    const hung = http.get(`${gw.url}/hang`, { agent: false });
    hung.on('error', () => {});
    t.after(() => hung.destroy());
    await fault.waitForRequest(1);
    let queuedAnswered = false;
    const queued = request(gw.url, { path: '/queued' }).finally(() => {
      queuedAnswered = true;
    });
    await waitUntil('the second request queued', () => poolOf(gw).stats().waiting === 1);
    const refused = await request(gw.url, { path: '/refused', headers: { 'x-request-id': 'refused' } });
    assert.equal(refused.status, 503);
    assert.match(refused.headers['proxy-status'] as string, /^edge-1; error=connection_limit_reached/);
    assert.equal(refused.headers['retry-after'], '1');
    assert.equal(queuedAnswered, false, 'refused at once, while the queued request still waits');
    assert.equal(
      (await gw.logFor('refused')).details,
      'every connection to "app" is busy and 1 request already waits for one (pool.max_pending: 1)',
    );
    assert.equal((await queued).status, 503, 'the queued one then runs out of queue_timeout');
    assert.equal(fault.received.length, 1);
  });

  test('the queue is FIFO, and a queued request whose client left never reaches the upstream', async (t) => {
    let release = (): void => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const fault = await startRawFault(async (connection) => {
      for (;;) {
        const req = await connection.nextRequest({ body: true });
        if (req.path === '/first') await held;
        await connection.write(OK(req.path));
      }
    });
    const gw = await through(t, fault, { upstream: '    pool: { max_connections: 1 }' });
    const pool = poolOf(gw);
    const first = request(gw.url, { path: '/first', headers: { 'x-request-id': 'first' } });
    await fault.waitForRequest(1);
    const second = request(gw.url, { path: '/second', headers: { 'x-request-id': 'second' } });
    await waitUntil('/second queued', () => pool.stats().waiting === 1);
    const gone = http.get(`${gw.url}/gone`, { agent: false, headers: { 'x-request-id': 'gone' } });
    gone.on('error', () => {});
    await waitUntil('/gone queued', () => pool.stats().waiting === 2);
    const third = request(gw.url, { path: '/third' });
    await waitUntil('/third queued', () => pool.stats().waiting === 3);
    gone.destroy();
    await waitUntil('/gone left the queue', () => pool.stats().waiting === 2);
    const goneLine = await gw.logFor('gone');
    assert.equal(goneLine.status, 499);
    assert.equal(goneLine.stage, 'not_sent');
    // It left from the queue: nothing went upstream, so no attempt, as for a queue wait run out.
    assert.equal(goneLine.attempts, 0);
    assert.equal(typeof goneLine.queued_ms, 'number');
    release();
    for (const [res, path] of [
      [await first, '/first'],
      [await second, '/second'],
      [await third, '/third'],
    ] as const) {
      assert.equal(res.status, 200);
      assert.equal(res.text, path);
    }
    assert.deepEqual(
      fault.received.map((r) => [r.path, r.connection]),
      [
        ['/first', 1],
        ['/second', 1],
        ['/third', 1],
      ],
    );
    assert.deepEqual(pool.stats(), { open: 1, idle: 1, waiting: 0 });
    // The wait behind the busy connection is the line's own, apart from the upstream's time.
    const [firstLine, secondLine] = [await gw.logFor('first'), await gw.logFor('second')];
    assert.equal(firstLine.queued_ms, undefined, 'the first took the free connection');
    assert.equal(typeof secondLine.queued_ms, 'number');
    assert.equal(secondLine.reused, true);
  });
});

// ── idle connections ─────────────────────────────────────────────────────────────────

describe('idle connections', () => {
  test('Keep-Alive: timeout=1 from the upstream: after 1.2 s idle the next request goes on a new connection', async (t) => {
    // Node's server announces `Keep-Alive: timeout=1` and closes idle sockets after exactly 1 s.
    const fault = await startIdleCloser({ idleMs: 1000 });
    const gw = await through(t, fault, { upstream: '    retries: { attempts: 1 }' });
    const first = await request(gw.url, { path: '/one' });
    assert.equal(first.status, 200);
    assert.equal(first.headers['keep-alive'], undefined, 'the hint is hop-by-hop');
    await sleep(1200);
    // Whoever closed it, the gateway did so first (never pooled past the hint): 'local' would be the upstream's close.
    assert.equal(await fault.connectionLog[0].ended, 'fin');
    const second = await request(gw.url, { path: '/two', headers: { 'x-request-id': 'after-idle' } });
    assert.equal(second.status, 200, 'no 502 from the stale connection (retries are off)');
    assert.equal(echoed(second.text).connection, 2);
    const line = await gw.logFor('after-idle');
    assert.equal(line.reused, false);
    assert.equal(line.attempts, 1);
  });

  test('Keep-Alive: timeout=2: the connection is reused at once, and the gateway closes it before the upstream does', async (t) => {
    const fault = await startIdleCloser({ idleMs: 2000 });
    const gw = await through(t, fault, { upstream: '    retries: { attempts: 1 }' });
    assert.equal((await request(gw.url, { path: '/one' })).status, 200);
    const again = await request(gw.url, { path: '/two', headers: { 'x-request-id': 'hint-reuse' } });
    assert.equal(echoed(again.text).connection, 1);
    assert.equal((await gw.logFor('hint-reuse')).reused, true);
    // The gateway keeps it timeout − 1 s = 1 s; the upstream would close at 2 s ('local' then).
    const end = await within(fault.connectionLog[0].ended, 1900, 'the gateway closing the connection');
    assert.equal(end, 'fin', 'the gateway, not the upstream, closed the idle connection');
    const third = await request(gw.url, { path: '/three' });
    assert.equal(third.status, 200);
    assert.equal(echoed(third.text).connection, 2);
  });

  test('pool.idle_timeout 200ms: the gateway closes the idle connection; the next request opens a new one', async (t) => {
    const upstream = await startCounting((_req, res) => res.end('ok'));
    const gw = await through(t, upstream, { upstream: '    pool: { idle_timeout: 200ms }' });
    assert.equal((await request(gw.url, { path: '/a' })).status, 200);
    assert.equal((await request(gw.url, { path: '/b', headers: { 'x-request-id': 'idle-b' } })).status, 200);
    assert.equal((await gw.logFor('idle-b')).reused, true, 'not closed while in use');
    assert.equal(upstream.connections, 1);
    await sleep(400);
    // The server-side 'close' event: the upstream saw the gateway hang up (with a bound, not a measurement).
    await within(upstream.closed[0], 1500, 'the upstream seeing the idle connection closed');
    const res = await request(gw.url, { path: '/c', headers: { 'x-request-id': 'idle-c' } });
    assert.equal(res.status, 200);
    assert.equal(upstream.connections, 2);
    assert.equal((await gw.logFor('idle-c')).reused, false);
  });
});

// ── a response that ends while the request body is still going out ──────────────────

describe('an early response', () => {
  test('413 while a 1 MiB POST is still uploading: the client gets it, the half-sent connection is not reused', async (t) => {
    const fault = await startRawFault(async (connection) => {
      if (connection.record.index === 1) {
        await connection.nextRequest(); // the head only: answer before the body is in
        await connection.write(
          'HTTP/1.1 413 Payload Too Large\r\nContent-Length: 9\r\nConnection: keep-alive\r\n\r\ntoo large',
        );
        return; // keeps reading (and recording) whatever else arrives, never closes
      }
      await answerEach(() => OK('fresh'))(connection);
    });
    const gw = await through(t, fault);
    const size = 1024 * 1024;
    const body = patternBytes(size);
    const early = await new Promise<{ status: number; text: string; sent: number }>((resolve, reject) => {
      const req = http.request(`${gw.url}/upload`, {
        method: 'POST',
        agent: false,
        headers: { 'content-length': String(size), 'x-request-id': 'early-413' },
      });
      let sent = 0;
      let answered = false;
      const step = 32 * 1024;
      const pump = () => {
        if (answered || sent >= size) return;
        req.write(body.subarray(sent, sent + step));
        sent += step;
        setTimeout(pump, 10);
      };
      req.on('response', (res) => {
        answered = true;
        let text = '';
        res.setEncoding('latin1');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, text, sent });
          req.destroy();
        });
      });
      req.on('error', (err) => {
        if (!answered) reject(err);
      });
      pump();
    });
    assert.equal(early.status, 413);
    assert.equal(early.text, 'too large');
    assert.ok(early.sent < size, 'the answer came while the body was still being uploaded');
    const line = await gw.logFor('early-413');
    assert.equal(line.status, 413);
    assert.equal(line.error, undefined);

    const next = await request(gw.url, { path: '/next', headers: { 'x-request-id': 'after-413' } });
    assert.equal(next.status, 200);
    assert.equal(next.text, 'fresh');
    const nextReq = fault.received.find((r) => r.path === '/next');
    assert.ok(nextReq);
    assert.equal(nextReq.connection, 2, 'the next request went on a fresh connection');
    assert.equal((await gw.logFor('after-413')).reused, false);
    const end = await within(fault.connectionLog[0].ended, 2000, 'the half-sent connection closing');
    assert.ok(end === 'fin' || end === 'reset', `the gateway closed the half-sent connection (${end})`);
    assert.equal(fault.received.filter((r) => r.connection === 1).length, 1);
    assert.equal(fault.received[0].bodyComplete, false, 'the upstream never got the rest of the body');
  });
});

// ── request framing toward the upstream ──────────────────────────────────────────────

describe('request framing', () => {
  test('a body-less POST without Content-Length reaches the upstream with content-length: 0', async (t) => {
    const fault = await startEcho();
    const gw = await through(t, fault);
    const exchange = await rawRequest(
      gw.port,
      'POST /empty HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n',
    );
    assert.equal(exchange.status, 200);
    const seen = await fault.waitForRequest(1, { body: true });
    assert.equal(seen.method, 'POST');
    assert.equal(seen.headers['content-length'], '0');
    assert.equal(seen.headers['transfer-encoding'], undefined);
    assert.equal(seen.bodyLength, 0);
  });

  test("an HTTP/1.0 request without Host reaches the upstream with the target's authority as Host", async (t) => {
    const fault = await startEcho();
    const gw = await through(t, fault);
    const exchange = await rawRequest(gw.port, 'GET /old HTTP/1.0\r\n\r\n');
    assert.equal(exchange.status, 200);
    const seen = await fault.waitForRequest(1);
    assert.equal(seen.httpVersion, '1.1', 'the gateway speaks HTTP/1.1 upstream');
    assert.equal(seen.headers.host, `127.0.0.1:${fault.port}`);
    assert.equal(seen.rawHeaders.filter(([name]) => name.toLowerCase() === 'host').length, 1);
  });

  test('a chunked request body of unknown length reaches the upstream chunked and whole', async (t) => {
    const fault = await startEcho();
    const gw = await through(t, fault);
    const body = patternBytes(300_000, 3);
    const text = await new Promise<string>((resolve, reject) => {
      const req = http.request(`${gw.url}/chunked`, { method: 'PUT', agent: false }, (res) => {
        let out = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          out += c;
        });
        res.on('end', () => resolve(out));
      });
      req.on('error', reject);
      req.write(body.subarray(0, 100_000));
      setTimeout(() => {
        req.write(body.subarray(100_000, 200_000));
        setTimeout(() => req.end(body.subarray(200_000)), 10);
      }, 10);
    });
    const seen = echoed(text);
    assert.equal(seen.headers['transfer-encoding'], 'chunked');
    assert.equal(seen.headers['content-length'], undefined);
    assert.equal(seen.bodyLength, body.length);
    assert.equal(seen.bodySha256, sha256(body));
  });

  test("a chunked body over the route's limits.body gets 413; the upstream never receives a complete body", async (t) => {
    const fault = await startEcho();
    const gw = await through(t, fault, { route: '    limits: { body: 100KiB }' });
    const piece = patternBytes(64 * 1024);
    const answer = await new Promise<{ status: number; headers: http.IncomingHttpHeaders }>(
      (resolve, reject) => {
        const req = http.request(`${gw.url}/big`, {
          method: 'PUT',
          agent: false,
          headers: { 'x-request-id': 'too-big', accept: 'application/json' },
        });
        let answered = false;
        req.on('response', (res) => {
          answered = true;
          res.resume();
          res.on('end', () => {
            resolve({ status: res.statusCode ?? 0, headers: res.headers });
            req.destroy();
          });
        });
        req.on('error', (err) => {
          if (!answered) reject(err);
        });
        // 64 KiB (under the limit) goes through; the next 64 KiB crosses 100 KiB. Then the client waits.
        req.write(piece);
        fault.waitForRequest(1).then(() => req.write(piece), reject);
      },
    );
    assert.equal(answer.status, 413);
    assert.equal(answer.headers.connection, 'close');
    const line = await gw.logFor('too-big');
    assert.equal(line.status, 413);
    assert.equal(line.error, 'http_request_error');
    const end = await within(fault.connectionLog[0].ended, 2000, 'the upstream connection closing');
    assert.ok(end === 'fin' || end === 'reset', `the gateway cut the upstream connection (${end})`);
    const seen = fault.received[0];
    assert.equal(seen.headers['transfer-encoding'], 'chunked');
    assert.equal(seen.bodyComplete, false, 'no last-chunk reached the upstream');
    assert.ok(seen.bodyLength <= 100 * 1024, `at most the limit went upstream (${seen.bodyLength})`);
  });

  test('HEAD to an upstream announcing Content-Length: 1000: no body, and the connection stays usable', async (t) => {
    const fault = await startRawFault(
      answerEach((_index, method) =>
        method === 'HEAD'
          ? 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n'
          : OK('after head'),
      ),
    );
    const gw = await through(t, fault);
    const head = await request(gw.url, { method: 'HEAD', path: '/h' });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], '1000');
    assert.equal(head.body.length, 0);
    assert.equal(head.aborted, false);
    const next = await request(gw.url, { path: '/after', headers: { 'x-request-id': 'after-head' } });
    assert.equal(next.status, 200);
    assert.equal(next.text, 'after head');
    assert.equal(fault.connections, 1);
    assert.deepEqual(
      fault.received.map((r) => [r.method, r.connection]),
      [
        ['HEAD', 1],
        ['GET', 1],
      ],
    );
    assert.equal((await gw.logFor('after-head')).reused, true);
  });
});

// ── the response side: 1xx, trailers, backpressure ───────────────────────────────────

describe('response features', () => {
  test('103 Early Hints and the 200 in one upstream write reach an HTTP/1.1 client in order', async (t) => {
    const fault = await startRawFault(
      answerEach((index) =>
        index === 1
          ? 'HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\nConnection: X-Hop\r\nX-Hop: 1\r\n\r\n' +
            'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal'
          : OK('again'),
      ),
    );
    const gw = await through(t, fault);
    const exchange = await rawRequest(gw.port, 'GET /hints HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(exchange.status, 103);
    const final = exchange.raw.indexOf('HTTP/1.1 200 OK\r\n');
    assert.ok(final > 0, `a 200 follows the 103: ${JSON.stringify(exchange.raw)}`);
    const hints = exchange.raw.slice(0, final);
    assert.match(hints, /^HTTP\/1\.1 103 Early Hints\r\n/);
    assert.match(hints, /\r\nlink: <\/style\.css>; rel=preload; as=style\r\n/i);
    assert.match(hints, /\r\nvia: 1\.1 edge-1\r\n/i);
    assert.doesNotMatch(hints, /connection:|x-hop/i, 'hop-by-hop fields stay on the upstream hop');
    assert.equal(lastBody(exchange.raw), 'final');
    // The interim answer left the connection in a clean state for the next request.
    const next = await request(gw.url, { path: '/next', headers: { 'x-request-id': 'after-103' } });
    assert.equal(next.text, 'again');
    assert.equal(fault.connections, 1);
  });

  test('any other 1xx is passed on to an HTTP/1.1 client, hop-by-hop fields out and Via in; not to HTTP/1.0', async (t) => {
    const fault = await startRawFault(
      answerEach(
        () =>
          'HTTP/1.1 104 Upload Resumption Supported\r\nUpload-Draft-Interop-Version: 6\r\n' +
          'Connection: X-Hop\r\nX-Hop: secret\r\n\r\n' +
          'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal',
      ),
    );
    const gw = await through(t, fault);
    const exchange = await rawRequest(
      gw.port,
      'GET /upload HTTP/1.1\r\nHost: x\r\nX-Request-Id: interim-1\r\nConnection: close\r\n\r\n',
    );
    assert.equal(exchange.status, 104);
    const final = exchange.raw.indexOf('HTTP/1.1 200 OK\r\n');
    assert.ok(final > 0, `a 200 follows the 104: ${JSON.stringify(exchange.raw)}`);
    const interim = exchange.raw.slice(0, final);
    assert.match(interim, /^HTTP\/1\.1 104 Upload Resumption Supported\r\n/);
    assert.match(interim, /\r\nUpload-Draft-Interop-Version: 6\r\n/);
    assert.match(interim, /\r\nvia: 1\.1 edge-1\r\n/i);
    assert.match(interim, /\r\nx-request-id: [0-9a-f-]{36}\r\n/i);
    assert.doesNotMatch(interim, /connection:|x-hop/i);
    assert.ok(interim.endsWith('\r\n\r\n'));
    assert.equal(lastBody(exchange.raw), 'final');
    const old = await rawRequest(gw.port, 'GET /upload HTTP/1.0\r\nHost: x\r\n\r\n');
    assert.equal(old.status, 200, 'an HTTP/1.0 client gets no interim answer');
  });

  test('trailers of a chunked upstream response reach an HTTP/1.1 client that sent TE: trailers', async (t) => {
    const fault = await startRawFault(
      answerEach(
        () =>
          'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n' +
          '5\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: abc123\r\nX-Other: two\r\n\r\n',
      ),
    );
    const gw = await through(t, fault);
    const res = await request(gw.url, { path: '/t', headers: { te: 'trailers' } });
    assert.equal(res.status, 200);
    assert.equal(res.text, 'hello world');
    assert.equal(res.aborted, false);
    assert.equal(res.headers['transfer-encoding'], 'chunked');
    assert.equal(res.headers.trailer, 'X-Checksum');
    assert.deepEqual({ ...res.trailers }, { 'x-checksum': 'abc123', 'x-other': 'two' });
    // The trailer section was consumed: the connection carries the next request.
    assert.equal((await request(gw.url, { path: '/t2', headers: { te: 'trailers' } })).text, 'hello world');
    assert.equal(fault.connections, 1);
  });

  test('backpressure: a 20 MiB response to a client that pauses 500 ms arrives whole; read: 300ms never fires', async (t) => {
    const fault = await startEcho();
    const gw = await through(t, fault, {
      upstream: '    timeouts: { read: 300ms, response: 1s }\n    retries: { attempts: 1 }',
    });
    const size = 20 * 1024 * 1024;
    const expected = sha256(patternBytes(size)); // before the transfer: it costs CPU time
    const got = await new Promise<{ status: number; length: number; hash: string; complete: boolean }>(
      (resolve, reject) => {
        const req = http.get(
          `${gw.url}/?bytes=${size}`,
          { agent: false, headers: { 'x-request-id': 'slow-reader' } },
          (res) => {
            res.pause();
            setTimeout(() => {
              const hash = createHash('sha256');
              let length = 0;
              res.on('data', (c: Buffer) => {
                hash.update(c);
                length += c.length;
              });
              res.on('error', () => {}); // an abort shows as complete === false, with the log line's reason
              res.on('close', () =>
                resolve({
                  status: res.statusCode ?? 0,
                  length,
                  hash: hash.digest('hex'),
                  complete: res.complete,
                }),
              );
              res.resume();
            }, 500);
          },
        );
        req.on('error', reject);
      },
    );
    const line = await gw.logFor('slow-reader');
    assert.equal(got.status, 200);
    assert.equal(got.complete, true, `the transfer was not aborted: ${line.error} (${line.details})`);
    assert.equal(line.error, undefined, `no failure logged: ${line.details}`);
    assert.equal(got.length, size);
    assert.equal(got.hash, expected, 'byte-exact');
    assert.equal(line.bytes_out, size);

    // The connection paused for backpressure must come back to the pool readable.
    const next = await request(gw.url, {
      path: '/after-backpressure',
      headers: { 'x-request-id': 'after-slow' },
      timeoutMs: 3000,
    });
    const after = await gw.logFor('after-slow');
    assert.equal(
      next.status,
      200,
      `the next request on that connection works: ${after.error} ${after.details}`,
    );
    assert.equal(echoed(next.text).connection, 1);
    assert.equal(after.reused, true);
  });

  // When one socket read holds both the body bytes whose downstream write returns false
  // (the exchange pauses the upstream socket) and the end of the response, the connection
  // goes back to the pool: it must read again, or the next request on it hangs. Here the
  // whole response arrives in one read, and the downstream head (a 200-character
  // X-Request-Id) makes the corked write cross the socket's 64 KiB highWaterMark.
  test('a response that completes while backpressure paused its connection leaves that connection usable', async (t) => {
    const size = 65_400;
    const fault = await startRawFault(
      answerEach((index) =>
        index === 1 ? `HTTP/1.1 200 OK\r\nContent-Length: ${size}\r\n\r\n${'x'.repeat(size)}` : OK('second'),
      ),
    );
    const gw = await through(t, fault, {
      upstream: '    timeouts: { response: 500ms }\n    retries: { attempts: 1 }',
    });
    const first = await request(gw.url, { path: '/big', headers: { 'x-request-id': 'r'.repeat(200) } });
    assert.equal(first.status, 200);
    assert.equal(first.body.length, size);
    const next = await request(gw.url, { path: '/next', headers: { 'x-request-id': 'after-paused' } });
    const line = await gw.logFor('after-paused');
    assert.equal(
      next.status,
      200,
      `got ${next.status}: ${line.error} (${line.details}), reused=${line.reused}`,
    );
    assert.equal(next.text, 'second');
  });
});

test('a response already waiting when a stalled gateway wakes is read before its timeout is blamed on the upstream', async (t) => {
  // All in one process: the upstream answers 80 ms after the request, but 10 ms after it
  // arrives the event loop is blocked for 500 ms (a long GC pause, say). When it wakes, the
  // answer is in the socket and the 200 ms response timeout is due in the same turn.
  const fault = await startRawFault(async (connection) => {
    await connection.nextRequest();
    setTimeout(() => connection.write(OK('in time')), 80);
    setTimeout(() => {
      const until = performance.now() + 500;
      while (performance.now() < until) {
        // the stall
      }
    }, 10);
  });
  const gw = await through(t, fault, {
    upstream: '    timeouts: { response: 200ms }\n    retries: { attempts: 1 }',
  });
  const res = await request(gw.url, { path: '/stall', headers: { 'x-request-id': 'stall' } });
  const line = await gw.logFor('stall');
  assert.equal(res.status, 200, `${line.error} ${line.details}`);
  assert.equal(res.text, 'in time');
});
