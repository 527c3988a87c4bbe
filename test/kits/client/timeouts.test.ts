/**
 * candor/client's two waits below the call's deadline, against real node:net servers that
 * misbehave: `attemptTimeout` cuts one attempt that gets no response head (504
 * `http_response_timeout`, retried under the table's rules, so a second try that answers is
 * made), and `bodyTimeout` ends a read of a body that stalled after its head (the read rejects
 * with UPSTREAM_BODY_TIMEOUT, `connection_read_timeout`, and the connection is destroyed).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type AttemptReport, createFetch, UpstreamError } from '../../../src/kits/client/index.ts';
import { startUnaccepting } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { waitUntil } from '../../helpers/wait.ts';

/** A raw server running `script` on its nth connection (1-based), with every request head it read. */
interface RawServer {
  readonly url: string;
  /** Request lines, in arrival order. */
  readonly requests: string[];
  /** Whole request heads, in arrival order. */
  readonly heads: string[];
  /** Each connection's socket, in arrival order. */
  readonly sockets: Socket[];
  close(): Promise<void>;
}

async function startRaw(script: (socket: Socket, n: number) => void): Promise<RawServer> {
  const requests: string[] = [];
  const heads: string[] = [];
  const sockets: Socket[] = [];
  const server: Server = createServer((socket) => {
    sockets.push(socket);
    const n = sockets.length;
    let head = '';
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      if (head.includes('\r\n\r\n')) return;
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      requests.push(head.split('\r\n')[0] ?? '');
      heads.push(head);
      script(socket, n);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    heads,
    sockets,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

const OK = 'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 6\r\n\r\nsecond';

/** What `promise` settled with, or 'pending' when it had not within `ms` (so no test can hang). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | Error | 'pending'> {
  const timer = sleep(ms, 'pending' as const);
  return Promise.race([promise.catch((error: Error) => error), timer]);
}

/** Once the server's end of a connection closed (the client let it go), or 'pending'. */
async function closed(socket: Socket | undefined): Promise<unknown> {
  assert.ok(socket, 'the connection came');
  return socket.destroyed ? 'closed' : within(once(socket, 'close'), 5_000);
}

const brief = (r: AttemptReport) => [r.attempt, r.status, r.type, r.retry, r.reason];

// A second, not less, for an attempt that hangs after it was sent: on a loaded machine a
// connection took more than 200 ms to be made, and the attempt was cut as connection_timeout.
test('attemptTimeout: a GET whose first attempt hangs is cut as http_response_timeout and tried again', async () => {
  // The first connection reads the request and never answers; the second answers.
  const server = await startRaw((socket, n) => {
    if (n > 1) socket.end(OK);
  });
  try {
    const reports: AttemptReport[] = [];
    const api = createFetch({
      attemptTimeout: 1000,
      deadline: 5_000,
      onAttemptFailed: (r) => reports.push(r),
    });
    const res = await within(api(`${server.url}/slow`), 5_000);
    assert.ok(res instanceof Response, `expected the second attempt's answer, got ${String(res)}`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'second');
    assert.deepEqual(reports.map(brief), [[1, undefined, 'http_response_timeout', true, 'idempotent']]);
    assert.match(reports[0]?.detail ?? '', /no response head within the attemptTimeout of 1000 ms/);
    assert.deepEqual(server.requests, ['GET /slow HTTP/1.1', 'GET /slow HTTP/1.1']);
    // The attempt the client gave up on let its connection go.
    assert.notEqual(await closed(server.sockets[0]), 'pending');
  } finally {
    await server.close();
  }
});

test('attemptTimeout: a POST whose attempt hangs is not sent again (it may have been processed)', async () => {
  const server = await startRaw((socket, n) => {
    if (n > 1) socket.end(OK);
  });
  try {
    const reports: AttemptReport[] = [];
    const api = createFetch({
      attemptTimeout: 1000,
      deadline: 5_000,
      onAttemptFailed: (r) => reports.push(r),
    });
    const error = await within(api(`${server.url}/orders`, { method: 'POST', body: '{}' }), 5_000);
    assert.ok(error instanceof UpstreamError, `expected an UpstreamError, got ${String(error)}`);
    assert.equal(error.code, 'UPSTREAM_UNREACHABLE');
    assert.equal(error.type, 'http_response_timeout');
    assert.deepEqual(reports.map(brief), [[1, undefined, 'http_response_timeout', false, 'not_idempotent']]);
    // Sent before its second passed, but read by the server's side of this process maybe after
    // (a loaded machine's turn): the one POST is seen there, never a second.
    await waitUntil('the POST at the server', () => server.requests.length > 0);
    assert.deepEqual(server.requests, ['POST /orders HTTP/1.1']);
  } finally {
    await server.close();
  }
});

test('attemptTimeout: with an Idempotency-Key the hung POST is sent again, with the same key', async () => {
  const server = await startRaw((socket, n) => {
    if (n > 1) socket.end(OK);
  });
  try {
    const api = createFetch({ attemptTimeout: 1000, deadline: 5_000, idempotencyKey: true });
    const res = await within(api(`${server.url}/orders`, { method: 'POST', body: '{}' }), 5_000);
    assert.ok(res instanceof Response, `expected the second attempt's answer, got ${String(res)}`);
    assert.equal(res.status, 200);
    assert.deepEqual(server.requests, ['POST /orders HTTP/1.1', 'POST /orders HTTP/1.1']);
    const keys = server.heads.map((head) => /^idempotency-key: (.+)$/im.exec(head)?.[1]);
    assert.ok(keys[0], 'the first attempt carried an Idempotency-Key');
    assert.equal(keys[1], keys[0]);
  } finally {
    await server.close();
  }
});

test('attemptTimeout and bodyTimeout are checked at createFetch', () => {
  assert.throws(() => createFetch({ attemptTimeout: 0 }), {
    name: 'RangeError',
    message: /options\.attemptTimeout/,
  });
  assert.throws(() => createFetch({ attemptTimeout: Number.NaN }), {
    name: 'TypeError',
    message: /options\.attemptTimeout/,
  });
  assert.throws(() => createFetch({ bodyTimeout: -1 }), {
    name: 'RangeError',
    message: /options\.bodyTimeout/,
  });
  assert.throws(() => createFetch({ bodyTimeout: Number.NaN }), {
    name: 'TypeError',
    message: /options\.bodyTimeout/,
  });
});

test('bodyTimeout: a body that stalls after its head rejects the read and destroys the connection', async () => {
  // The head and 10 of the 100 bytes it announces, then nothing.
  const server = await startRaw((socket) => {
    socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 100\r\n\r\n0123456789');
  });
  try {
    const api = createFetch({ bodyTimeout: 200, deadline: 5_000 });
    const res = await api(`${server.url}/download`);
    assert.equal(res.status, 200);
    const error = await within(res.text(), 5_000);
    assert.ok(error instanceof UpstreamError, `expected an UpstreamError, got ${String(error)}`);
    assert.equal(error.code, 'UPSTREAM_BODY_TIMEOUT');
    assert.equal(error.type, 'connection_read_timeout');
    assert.match(error.message, /GET http:\/\/127\.0\.0\.1:\d+\/download: /);
    assert.match(error.message, /no body bytes within the bodyTimeout of 200 ms/);
    assert.notEqual(await closed(server.sockets[0]), 'pending');
    assert.deepEqual(server.requests, ['GET /download HTTP/1.1']);
  } finally {
    await server.close();
  }
});

test('bodyTimeout: a caller that reads late is not cut (only a read waiting on the server counts)', async () => {
  const server = await startRaw((socket) => {
    socket.write('HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nwhole.');
  });
  try {
    const res = await createFetch({ bodyTimeout: 100 })(`${server.url}/`);
    await sleep(300); // the caller is busy: nobody is waiting on the server
    assert.equal(await within(res.text(), 5_000), 'whole.');
  } finally {
    await server.close();
  }
});

test('attemptTimeout: an attempt it cut is a failure for the circuit, as a hang is', async () => {
  const server = await startRaw(() => {});
  try {
    const api = createFetch({
      attempts: 1,
      attemptTimeout: 1000,
      circuitBreaker: { failures: 1, openTime: 60_000 },
    });
    const first = await within(api(`${server.url}/`), 5_000);
    assert.ok(first instanceof UpstreamError, `expected an UpstreamError, got ${String(first)}`);
    assert.equal(first.type, 'http_response_timeout');
    const second = await within(api(`${server.url}/`), 5_000);
    assert.ok(second instanceof UpstreamError, `expected an UpstreamError, got ${String(second)}`);
    assert.equal(second.code, 'UPSTREAM_CIRCUIT_OPEN');
    assert.deepEqual(server.requests, ['GET / HTTP/1.1']);
  } finally {
    await server.close();
  }
});

test("bodyTimeout: the caller's abort while a read waits rejects with the caller's reason, as fetch's", async () => {
  const server = await startRaw((socket) => {
    socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789');
  });
  try {
    const caller = new AbortController();
    const res = await createFetch({ bodyTimeout: 60_000 })(`${server.url}/`, { signal: caller.signal });
    const reading = within(res.text(), 5_000);
    const reason = new Error('the caller left');
    caller.abort(reason);
    assert.equal(await reading, reason);
    assert.notEqual(await closed(server.sockets[0]), 'pending');
  } finally {
    await server.close();
  }
});

// A connect that hangs (the listener's backlog full: the kernel drops the SYN) sent nothing: the
// table's connection_timeout, which any method may take again, as the gateway's connect timeout
// is. Told "no response head", a POST that never left was never sent again.
test('attemptTimeout: an attempt cut while its connection was still being made is connection_timeout, nothing sent, and a POST goes again', async () => {
  const unaccepting = await startUnaccepting();
  try {
    const reports: AttemptReport[] = [];
    const api = createFetch({
      attempts: 2,
      attemptTimeout: 150,
      backoff: { base: 1, cap: 2 },
      onAttemptFailed: (r) => reports.push(r),
    });
    const error = await within(
      api(`${unaccepting.url}/orders`, { method: 'POST', body: '{"sku":42}' }),
      5_000,
    );
    assert.ok(error instanceof UpstreamError, `expected an UpstreamError, got ${String(error)}`);
    assert.equal(error.code, 'UPSTREAM_UNREACHABLE');
    assert.equal(error.type, 'connection_timeout');
    assert.deepEqual(
      reports.map((r) => [r.type, r.reason]),
      [
        ['connection_timeout', 'not_sent'],
        ['connection_timeout', 'attempts'],
      ],
    );
    assert.match(
      reports[0].detail ?? '',
      /^no connection within the attemptTimeout of 150 ms \(the TCP connect or the TLS handshake did not finish\)$/,
    );
  } finally {
    await unaccepting.close();
  }
});
