/**
 * RFC 9110 §10.1.1: a server that will refuse a request whatever its body answers the final
 * status instead of `100 Continue`. A client here sends its head with `Expect: 100-continue`
 * and waits: asked for its body (a 100), it sends it; answered, it does not. Each refusal the
 * gateway knows from the head alone (no target in rotation, a pool and its queue full, every
 * admit policy) is answered without asking for the body, the connection closed, nothing upstream.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { onlyLogLine } from '../helpers/gateway-error.ts';
import { rawRequest } from '../helpers/http-client.ts';
import { type ScriptedUpstream, scriptedUpstream } from '../helpers/scripted-upstream.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';
import { waitUntil } from '../helpers/wait.ts';

const BODY = 256 * 1024;

interface ExpectResult {
  /** The gateway said 100 Continue before its final answer: the client sent its body. */
  readonly asked: boolean;
  /** The final answer's status, its fields (lower-case names), its body. */
  readonly status: number;
  readonly fields: Map<string, string>;
  readonly body: string;
  /** The gateway closed the connection after its answer. */
  readonly closed: boolean;
}

/** Sends `head` (a POST announcing BODY bytes, with Expect), sends the body only if asked, reads the final answer. */
async function expectRequest(port: number, head: string): Promise<ExpectResult> {
  const socket = net.connect(port, '127.0.0.1');
  let raw = Buffer.alloc(0);
  let closed = false;
  let wake: () => void = () => {};
  socket.on('data', (chunk: Buffer) => {
    raw = Buffer.concat([raw, chunk]);
    wake();
  });
  socket.on('close', () => {
    closed = true;
    wake();
  });
  socket.on('error', () => {});
  const next = () => new Promise<void>((resolve) => (wake = resolve));
  socket.write(head);
  let asked = false;
  // The first head: an interim 100 (then the body goes), or the final answer.
  for (;;) {
    const text = raw.toString('latin1');
    if (text.startsWith('HTTP/1.1 100 Continue\r\n\r\n')) {
      asked = true;
      raw = raw.subarray('HTTP/1.1 100 Continue\r\n\r\n'.length);
      socket.write(Buffer.alloc(BODY, 97));
      break;
    }
    if (text.includes('\r\n\r\n') || closed) break;
    await next();
  }
  // The final answer, whole; then the gateway's close, if it closes (1 s at most).
  let end = -1;
  let length = 0;
  for (;;) {
    const text = raw.toString('latin1');
    end = text.indexOf('\r\n\r\n');
    if (end !== -1) {
      length = Number(/\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end))?.[1] ?? 0);
      if (raw.length >= end + 4 + length) break;
    }
    if (closed) throw new Error(`closed before a whole answer: ${text}`);
    await next();
  }
  const settled = new Promise<void>((resolve) => {
    if (closed) resolve();
    socket.on('close', () => resolve());
  });
  await Promise.race([settled, new Promise((resolve) => setTimeout(resolve, 1000))]);
  socket.destroy();
  const text = raw.toString('latin1');
  const lines = text.slice(0, end).split('\r\n');
  const fields = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    fields.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
  }
  return {
    asked,
    status: Number(lines[0].split(' ')[1]),
    fields,
    body: text.slice(end + 4, end + 4 + length),
    closed,
  };
}

const expectHead = (path: string, extra = '') =>
  `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: ${BODY}\r\nExpect: 100-continue\r\n${extra}\r\n`;

/** The refusal's own answer: no 100, the status, Proxy-Status, no-store, the request id, closed. */
function assertRefusedFromHead(res: ExpectResult, status: number, error: string, details: RegExp): string {
  assert.equal(res.asked, false, 'the body was never asked for (no 100 Continue)');
  assert.equal(res.status, status);
  const proxyStatus = res.fields.get('proxy-status') ?? '';
  assert.match(proxyStatus, new RegExp(`^edge-1; error=${error}; details="`));
  assert.match(proxyStatus, details);
  assert.equal(res.fields.get('cache-control'), 'no-store');
  assert.equal(res.fields.get('connection'), 'close');
  assert.equal(res.closed, true, 'the body was never read: the connection closes');
  const id = res.fields.get('x-request-id') ?? '';
  assert.match(id, /^[0-9a-f-]{36}$/);
  return id;
}

describe('no target in rotation', () => {
  let app: ScriptedUpstream;
  const appRequests = () => app.requests.filter((r) => !r.head.startsWith('GET /health '));

  before(async () => {
    app = await scriptedUpstream((socket, req) => {
      if (req.head.startsWith('GET /health ')) {
        socket.write('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\ndown');
        return;
      }
      // Any other request: the connection dies (a reset), which outlier detection counts.
      socket.destroy();
    });
  });
  after(() => app.close());

  test('every target failing its health checks (panic off): 503 from the head, no 100', async () => {
    const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${app.url}
    health_check: { path: /health, interval: 50ms, fall: 1, rise: 1 }
    panic_threshold: 0
    retries: { attempts: 1 }
`);
    try {
      const target = gw.gateway.runtime().upstreams.get('app')?.targets[0];
      await waitUntil('the target fails its checks', () => target?.checkedHealthy === false);
      const res = await expectRequest(gw.port, expectHead('/upload'));
      const id = assertRefusedFromHead(
        res,
        503,
        'destination_unavailable',
        /no target of \\"app\\" is in rotation \(1 failing health checks\)/,
      );
      assert.ok(res.fields.has('retry-after'));
      assert.equal(appRequests().length, 0, 'nothing reached the upstream');
      const line = await onlyLogLine(gw, id);
      assert.equal(line.status, 503);
      assert.equal(line.error, 'destination_unavailable');
      assert.equal(line.attempts, 0);
      assert.equal(line.bytes_in, expectHead('/upload').length, 'the head, and no byte of a body');
    } finally {
      await gw.close();
    }
  });

  test('every target ejected (panic off): 503 from the head, no 100', async () => {
    const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${app.url}
    panic_threshold: 0
    outlier_detection: { consecutive_failures: 1, base_ejection_time: 60s }
    circuit_breaker: { consecutive_failures: 0 }
    retries: { attempts: 1 }
`);
    try {
      const reset = await rawRequest(gw.port, 'GET /first HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      assert.equal(reset.status, 502);
      const seen = appRequests().length;
      const res = await expectRequest(gw.port, expectHead('/upload'));
      const id = assertRefusedFromHead(
        res,
        503,
        'destination_unavailable',
        /no target of \\"app\\" is in rotation \(1 ejected after repeated failures\)/,
      );
      assert.ok(res.fields.has('retry-after'));
      assert.equal(appRequests().length, seen, 'nothing reached the upstream');
      const line = await onlyLogLine(gw, id);
      assert.equal(line.status, 503);
      assert.equal(line.error, 'destination_unavailable');
    } finally {
      await gw.close();
    }
  });

  test('with hold, a body past limits.buffer never waits (it streams): 503 from the head, no 100', async () => {
    const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
    limits: { buffer: 64KiB }
upstreams:
  app:
    targets:
      - url: ${app.url}
    health_check: { path: /health, interval: 50ms, fall: 1, rise: 1 }
    panic_threshold: 0
    hold: { timeout: 200ms }
    retries: { attempts: 1 }
`);
    try {
      const target = gw.gateway.runtime().upstreams.get('app')?.targets[0];
      await waitUntil('the target fails its checks', () => target?.checkedHealthy === false);
      const seen = appRequests().length;
      const res = await expectRequest(gw.port, expectHead('/upload'));
      const id = assertRefusedFromHead(
        res,
        503,
        'destination_unavailable',
        /no target of \\"app\\" is in rotation \(1 failing health checks\)/,
      );
      assert.equal(appRequests().length, seen, 'nothing reached the upstream');
      const line = await onlyLogLine(gw, id);
      assert.equal(line.error, 'destination_unavailable');
      assert.equal(line.held_ms, undefined, 'it never waited');
      // A body within the buffer is kept while the request waits: that one is asked for.
      const small = await expectRequest(
        gw.port,
        'POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n',
      );
      assert.equal(small.asked, true, 'a body the hold keeps is asked for');
      assert.equal(small.status, 503, 'no target came back within hold.timeout');
    } finally {
      await gw.close();
    }
  });

  test('every target ejected, panic on: the ejected take it, so the body is asked for and sent', async () => {
    const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${app.url}
    panic_threshold: 50
    outlier_detection: { consecutive_failures: 1, base_ejection_time: 60s }
    circuit_breaker: { consecutive_failures: 0 }
    retries: { attempts: 1 }
`);
    try {
      assert.equal(
        (await rawRequest(gw.port, 'GET /first HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).status,
        502,
      );
      const res = await expectRequest(gw.port, expectHead('/upload'));
      assert.equal(res.asked, true, 'a target could take it: 100 Continue');
      assert.equal(res.status, 502, 'the ejected target’s own failure (it resets)');
      assert.ok(appRequests().some((r) => r.head.startsWith('POST /upload ')));
    } finally {
      await gw.close();
    }
  });
});

describe('every connection busy and the queue full', () => {
  let app: ScriptedUpstream;
  const held: net.Socket[] = [];

  before(async () => {
    // /slow is never answered: it holds its connection for as long as the test needs.
    app = await scriptedUpstream((socket, req) => {
      if (!req.head.startsWith('GET /slow')) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    });
  });
  after(async () => {
    for (const socket of held) socket.destroy();
    await app.close();
  });

  /** A GET the upstream never answers, on a client connection left open. */
  async function occupy(port: number, path: string): Promise<void> {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    held.push(socket);
    socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
  }

  const gatewayWith = (pool: string, hold = '') =>
    startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${app.url}
    pool: ${pool}
    retries: { attempts: 1 }
${hold}`);

  test('max_connections reached, max_pending 0: 503 from the head, no 100', async () => {
    const gw = await gatewayWith('{ max_connections: 1, max_pending: 0 }');
    try {
      const seen = app.requests.length;
      await occupy(gw.port, '/slow-a');
      await waitUntil('the upstream holds /slow-a', () => app.requests.length === seen + 1);
      const res = await expectRequest(gw.port, expectHead('/upload'));
      const id = assertRefusedFromHead(
        res,
        503,
        'connection_limit_reached',
        /every connection to \\"app\\" is busy and none may wait for one \(pool.max_pending: 0\)/,
      );
      assert.equal(res.fields.get('retry-after'), '1');
      assert.equal(app.requests.length, seen + 1, 'nothing more reached the upstream');
      const line = await onlyLogLine(gw, id);
      assert.equal(line.status, 503);
      assert.equal(line.error, 'connection_limit_reached');
      assert.equal(line.attempts, 0);
      assert.equal(line.bytes_in, expectHead('/upload').length, 'the head, and no byte of a body');
    } finally {
      for (const socket of held.splice(0)) socket.destroy();
      await gw.close();
    }
  });

  test('a client that sends its body without waiting (as curl does after 1 s) still reads the whole 503', async () => {
    const gw = await gatewayWith('{ max_connections: 1, max_pending: 0 }');
    try {
      const seen = app.requests.length;
      await occupy(gw.port, '/slow-e');
      await waitUntil('the upstream holds /slow-e', () => app.requests.length === seen + 1);
      const socket = net.connect(gw.port, '127.0.0.1');
      let text = '';
      let reset = false;
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString('latin1');
      });
      socket.on('error', () => {
        reset = true;
      });
      const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
      // 4 MiB announced, sent straight after the head: the gateway answers, closes, and drains what comes.
      const size = 4 * 1024 * 1024;
      socket.write(
        `POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\nExpect: 100-continue\r\n\r\n`,
      );
      socket.write(Buffer.alloc(size, 97));
      await closed;
      assert.equal(reset, false, 'a lingering close: the upload never turns into a reset');
      assert.match(text, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
      assert.doesNotMatch(text, / 100 Continue/);
      const length = Number(/\r\ncontent-length: (\d+)\r\n/i.exec(text)?.[1]);
      assert.equal(text.length - text.indexOf('\r\n\r\n') - 4, length, 'the answer came whole');
      assert.equal(app.requests.length, seen + 1, 'nothing more reached the upstream');
    } finally {
      for (const socket of held.splice(0)) socket.destroy();
      await gw.close();
    }
  });

  test('the queue full behind it (max_pending 1), hold or not: 503 from the head, no 100', async () => {
    const gw = await gatewayWith('{ max_connections: 1, max_pending: 1 }', '    hold: { timeout: 5s }\n');
    try {
      const seen = app.requests.length;
      await occupy(gw.port, '/slow-b');
      await waitUntil('the upstream holds /slow-b', () => app.requests.length === seen + 1);
      await occupy(gw.port, '/slow-c');
      const upstream = gw.gateway.runtime().upstreams.get('app');
      await waitUntil('/slow-c waits for a connection', () => upstream?.pending.count === 1);
      const res = await expectRequest(gw.port, expectHead('/upload'));
      const id = assertRefusedFromHead(
        res,
        503,
        'connection_limit_reached',
        /every connection to \\"app\\" is busy and 1 request already waits for one \(pool.max_pending: 1\)/,
      );
      assert.equal(app.requests.length, seen + 1, 'nothing more reached the upstream');
      assert.equal((await onlyLogLine(gw, id)).error, 'connection_limit_reached');
    } finally {
      for (const socket of held.splice(0)) socket.destroy();
      await gw.close();
    }
  });

  test('a busy pool with room in its queue: the body is asked for, the request waits its turn', async () => {
    const gw = await gatewayWith('{ max_connections: 1, max_pending: 1, queue_timeout: 100ms }');
    try {
      const seen = app.requests.length;
      await occupy(gw.port, '/slow-d');
      await waitUntil('the upstream holds /slow-d', () => app.requests.length === seen + 1);
      const res = await expectRequest(gw.port, expectHead('/upload'));
      assert.equal(res.asked, true, 'it may wait for a connection: 100 Continue');
      assert.equal(res.status, 503);
      assert.match(res.fields.get('proxy-status') ?? '', /error=connection_limit_reached/);
    } finally {
      for (const socket of held.splice(0)) socket.destroy();
      await gw.close();
    }
  });
});

describe('the admit phase refuses from the head', () => {
  let app: ScriptedUpstream;
  let auth: ScriptedUpstream;
  let gw: TestGateway;
  let shedder: net.Socket | undefined;
  const reached = (path: string) => app.requests.filter((r) => r.head.startsWith(`POST ${path} `)).length;

  before(async () => {
    app = await scriptedUpstream((socket, req) => {
      if (!req.head.startsWith('GET /shed/slow'))
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    });
    // The auth service refuses everyone, with its own challenge.
    auth = await scriptedUpstream((socket) => {
      socket.write(
        'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm="sso"\r\nContent-Length: 4\r\n\r\nnope',
      );
    });
    const users = join(tempDir('candor-expect-'), 'users');
    writeFileSync(users, `staff:${bcrypt.hashSync('s3cret', 4)}\n`);
    gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: /maint }
    upstream: app
    maintenance: { retry_after: 120s, message: Back soon. }
  - match: { path: /down }
    upstream: resting
  - match: { path: /limited }
    upstream: app
    rate_limit: { rate: 0.000001, burst: 1 }
  - match: { path: /shed }
    upstream: app
    max_in_flight: 1
  - match: { path: /denied }
    upstream: app
    deny: [127.0.0.1]
  - match: { path: /basic }
    upstream: app
    auth: { basic: { users_file: ${users}, realm: Staff } }
  - match: { path: /sso }
    upstream: app
    auth: { forward: { url: ${auth.url}/check } }
  - match: { path: /app }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${app.url}
  resting:
    targets:
      - url: ${app.url}
    maintenance: { retry_after: 60s }
`);
  });
  after(async () => {
    shedder?.destroy();
    await gw.close();
    await app.close();
    await auth.close();
  });

  test('maintenance on the route: 503 with its Retry-After, no 100', async () => {
    const res = await expectRequest(gw.port, expectHead('/maint/upload'));
    const id = assertRefusedFromHead(res, 503, 'proxy_internal_response', /Back soon\./);
    assert.equal(res.fields.get('retry-after'), '120');
    assert.equal(reached('/maint/upload'), 0);
    const line = await onlyLogLine(gw, id);
    assert.equal(line.status, 503);
    assert.equal(line.error, 'proxy_internal_response');
  });

  test('maintenance on the upstream: 503 with its Retry-After, no 100', async () => {
    const res = await expectRequest(gw.port, expectHead('/down/upload'));
    const id = assertRefusedFromHead(res, 503, 'proxy_internal_response', /maintenance/);
    assert.equal(res.fields.get('retry-after'), '60');
    assert.equal(reached('/down/upload'), 0);
    assert.equal((await onlyLogLine(gw, id)).status, 503);
  });

  test('over the rate limit: 429, no 100, the one token taken once', async () => {
    const first = await expectRequest(gw.port, expectHead('/limited/upload'));
    assert.equal(first.asked, true, 'within the limit: the body is asked for');
    assert.equal(first.status, 200);
    const res = await expectRequest(gw.port, expectHead('/limited/upload'));
    const id = assertRefusedFromHead(res, 429, 'http_request_denied', /rate limit/);
    assert.match(res.fields.get('retry-after') ?? '', /^\d+$/);
    assert.equal(reached('/limited/upload'), 1, 'only the first went on');
    assert.equal((await onlyLogLine(gw, id)).status, 429);
  });

  test('the route at its max_in_flight: 503, no 100', async () => {
    shedder = net.connect(gw.port, '127.0.0.1');
    shedder.on('error', () => {});
    shedder.write('GET /shed/slow HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitUntil('the upstream holds /shed/slow', () =>
      app.requests.some((r) => r.head.startsWith('GET /shed/slow')),
    );
    const res = await expectRequest(gw.port, expectHead('/shed/upload'));
    const id = assertRefusedFromHead(res, 503, 'proxy_internal_response', /max_in_flight|in flight/);
    assert.equal(res.fields.get('retry-after'), '1');
    assert.equal(reached('/shed/upload'), 0);
    assert.equal((await onlyLogLine(gw, id)).status, 503);
    shedder.destroy();
  });

  test('a client the route denies: 403, no 100', async () => {
    const res = await expectRequest(gw.port, expectHead('/denied/upload'));
    const id = assertRefusedFromHead(res, 403, 'http_request_denied', /./);
    assert.equal(reached('/denied/upload'), 0);
    assert.equal((await onlyLogLine(gw, id)).status, 403);
  });

  test('no credentials for basic auth: 401 with its challenge, no 100', async () => {
    const res = await expectRequest(gw.port, expectHead('/basic/upload'));
    const id = assertRefusedFromHead(res, 401, 'http_request_denied', /./);
    assert.equal(res.fields.get('www-authenticate'), 'Basic realm="Staff", charset="UTF-8"');
    assert.equal(reached('/basic/upload'), 0);
    assert.equal((await onlyLogLine(gw, id)).status, 401);
  });

  test('the auth service refuses: its 401 passed on, no 100', async () => {
    const res = await expectRequest(gw.port, expectHead('/sso/upload'));
    assert.equal(res.asked, false, 'the body was never asked for (no 100 Continue)');
    assert.equal(res.status, 401);
    assert.equal(res.fields.get('www-authenticate'), 'Bearer realm="sso"');
    assert.equal(res.body, 'nope');
    assert.equal(res.fields.get('connection'), 'close');
    assert.equal(res.closed, true);
    assert.equal(reached('/sso/upload'), 0);
    const line = await onlyLogLine(gw, res.fields.get('x-request-id') ?? '');
    assert.equal(line.status, 401);
  });

  test('no route: 404, no 100', async () => {
    const res = await expectRequest(gw.port, expectHead('/nowhere'));
    const id = assertRefusedFromHead(res, 404, 'destination_not_found', /./);
    assert.equal(app.requests.filter((r) => r.head.includes('/nowhere')).length, 0);
    assert.equal((await onlyLogLine(gw, id)).status, 404);
  });
});
