/**
 * A streamed request body (past `limits.buffer`) keeps to `limits.body_min_rate` as a body read
 * whole does: a client that drips its upload is cut with its own 408 once it falls below the
 * rate (after `limits.body_read_timeout`), the upstream connection is closed (the body it was
 * reading is cut short), and no target is judged; for HTTP/1.1 and HTTP/2 clients. Before, the
 * drip held an upstream connection until `timeouts.total`.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type net from 'node:net';
import { test } from 'node:test';
import { h2Upload, rawUpload } from '../../helpers/http-client.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const SIZE = 100_000;
/** Past the route's 1 KiB buffer, so the body streams; then a byte every 50 ms, far under 1 KiB a second. */
const DRIP = { first: Buffer.alloc(2048, 'x'), drip: { piece: 'x', everyMs: 50 } };

/** An upstream that reads the body and says whether each one it was sent ended cut short. */
async function startUpstream() {
  const cut: boolean[] = [];
  const server = await listenOnLoopback((req, res) => {
    const i = cut.push(false) - 1;
    req.resume();
    req.on('end', () => res.end('whole'));
    req.on('close', () => {
      if (!req.complete) cut[i] = true;
    });
  });
  return { ...server, cut };
}

// Two targets on one server (its IPv4 address, and its IPv4-mapped IPv6 one: one origin written twice is a config error).
const CONFIG = (url: string) => `name: edge-1
limits: { body_read_timeout: 300ms, body_min_rate: 1KiB }
routes:
  - match: { path: / }
    upstream: app
    limits: { buffer: 1KiB }
upstreams:
  app:
    targets: [{ url: ${url} }, { url: "${url.replace('127.0.0.1', '[::ffff:127.0.0.1]')}" }]
    timeouts: { response: 5s, total: 5s }
    retries: { attempts: 1 }
    outlier_detection: { consecutive_failures: 1 }
`;

const DETAILS = /^request body slower than 1024 bytes\/s \(\d+ bytes in \d+ ms\)$/;

test('an HTTP/1.1 client dripping a streamed upload below body_min_rate: its 408, the upstream connection closed, no target judged', async (t) => {
  const upstream = await startUpstream();
  t.after(() => upstream.close());
  const edge = await startTestGateway(CONFIG(upstream.url));
  t.after(() => edge.close());
  const client = rawUpload(
    edge.port,
    `POST /up HTTP/1.1\r\nHost: a\r\nX-Request-Id: drip-h1\r\nContent-Length: ${SIZE}\r\n\r\n`,
    DRIP,
  );
  t.after(() => client.stop());
  await waitUntil('answered', () => client.received().includes('\r\n\r\n'), 4000);
  const got = client.received();
  assert.match(got, /^HTTP\/1\.1 408 /);
  const status = /\r\nproxy-status: edge-1; error=http_request_error; details="([^"]*)"\r\n/.exec(got);
  assert.ok(status, got);
  assert.match(status[1], DETAILS);
  const line = await edge.logFor('drip-h1');
  assert.equal(line.status, 408);
  assert.equal(line.error, 'http_request_error');
  assert.equal(line.shape, 'client');
  assert.match(String(line.details), DETAILS);
  await waitUntil('the upstream saw its body cut', () => upstream.cut[0] === true);
  assert.equal(upstream.cut.length, 1, 'no retry');
  assert.equal(
    edge.logs.some((l) => l.msg === 'target ejected'),
    false,
  );
});

test('an HTTP/2 client dripping a streamed upload below body_min_rate: its 408 too, no target judged', async (t) => {
  const upstream = await startUpstream();
  t.after(() => upstream.close());
  const edge = await startTestGateway(CONFIG(upstream.url), {}, 'http2: true');
  t.after(() => edge.close());
  const upload = h2Upload(
    edge.url,
    { ':method': 'POST', ':path': '/up', 'content-length': String(SIZE), 'x-request-id': 'drip-h2' },
    DRIP,
  );
  t.after(() => upload.stop());
  await waitUntil('answered', () => upload.head() !== undefined, 4000);
  const head = upload.head();
  assert.equal(head?.[':status'], 408);
  assert.match(
    String(head?.['proxy-status']),
    /^edge-1; error=http_request_error; details="request body slower than 1024 bytes\/s \(\d+ bytes in \d+ ms\)"$/,
  );
  const line = await edge.logFor('drip-h2');
  assert.equal(line.status, 408);
  assert.equal(line.error, 'http_request_error');
  assert.match(String(line.details), DETAILS);
  await waitUntil('the upstream saw its body cut', () => upstream.cut[0] === true);
  assert.equal(upstream.cut.length, 1, 'no retry');
  assert.equal(
    edge.logs.some((l) => l.msg === 'target ejected'),
    false,
  );
  // Gone before the gateway closes, which would otherwise wait out the session.
  upload.stop();
});

test("time the upstream holds a streamed body back is not the client's: a fast upload to an upstream that reads late is answered", async (t) => {
  // An h2c upstream that reads nothing for a while: its flow-control window (64 KiB) stops the
  // body, and the gateway pauses the client's; then it reads everything.
  const server = http2.createServer((req, res) => {
    req.pause();
    setTimeout(() => {
      let n = 0;
      req.on('data', (c: Buffer) => {
        n += c.length;
      });
      req.on('end', () => res.end(`got ${n}`));
      req.resume();
    }, 1500);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const { port } = server.address() as net.AddressInfo;
  const edge = await startTestGateway(`name: edge-1
limits: { body_read_timeout: 300ms, body_min_rate: 1MiB }
routes:
  - match: { path: / }
    upstream: app
    limits: { buffer: 1KiB }
upstreams:
  app:
    protocol: h2c
    targets: [{ url: http://127.0.0.1:${port} }]
    timeouts: { response: 10s, total: 10s }
    retries: { attempts: 1 }
`);
  t.after(() => edge.close());
  const size = 1024 * 1024;
  const answer = await rawUpload(
    edge.port,
    `POST /up HTTP/1.1\r\nHost: a\r\nX-Request-Id: held-back\r\nConnection: close\r\nContent-Length: ${size}\r\n\r\n`,
    { first: Buffer.alloc(size, 'x') },
  ).closed;
  assert.match(answer, /^HTTP\/1\.1 200 /);
  assert.ok(answer.includes(`got ${size}`), JSON.stringify(answer.slice(-400)));
  const line = await edge.logFor('held-back');
  assert.equal(line.error, undefined);
});
