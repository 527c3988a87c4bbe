/**
 * A client's slow upload is not the upstream's slowness: `timeouts.response` runs from the
 * request sent (its body all out, for one streaming from the client), so a body that takes
 * longer than it to arrive is forwarded whole and answered, and no target is judged for it;
 * over HTTP/1.1 and HTTP/2 (h2c) upstreams alike. Before, the clock ran from the request head:
 * a large upload over a slow link got 504 `http_response_timeout` and ejected a healthy target.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type net from 'node:net';
import type { Readable } from 'node:stream';
import { test } from 'node:test';
import { h2Upload, rawUpload } from '../../helpers/http-client.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const SIZE = 3000;

/** A request head for an upload of `size` bytes to /up, on a connection closed after it. */
const uploadHead = (id: string, size: number) =>
  `POST /up HTTP/1.1\r\nHost: a\r\nX-Request-Id: ${id}\r\nConnection: close\r\nContent-Length: ${size}\r\n\r\n`;

/** SIZE bytes, 300 at a time every 150 ms: longer in all than the upstream's 300 ms response timeout. */
const SLOWLY = { drip: { piece: 'x'.repeat(300), everyMs: 150, pieces: SIZE / 300 } };

/**
 * The edge: an upload past its 1 KiB buffer streams to two targets (one upstream, `protocol` when
 * given) that have 300 ms to answer once it is sent and `total` in all; one failure would eject a
 * target, so an ejection in the log is a target judged. The two are one server, under its IPv4
 * address and its IPv4-mapped IPv6 one: one origin written twice is a config error.
 */
const edgeConfig = (url: string, total: string, protocol?: string) => `name: edge-1
routes:
  - match: { path: / }
    upstream: app
    limits: { buffer: 1KiB }
upstreams:
  app:
${protocol === undefined ? '' : `    protocol: ${protocol}\n`}    targets: [{ url: ${url} }, { url: "${url.replace('127.0.0.1', '[::ffff:127.0.0.1]')}" }]
    timeouts: { response: 300ms, total: ${total} }
    retries: { attempts: 1 }
    outlier_detection: { consecutive_failures: 1 }
`;

/** What the upstream answers: the bytes of body it read, once it has them all. */
function countBody(req: Readable, done: (text: string) => void): void {
  let n = 0;
  req.on('data', (c: Buffer) => {
    n += c.length;
  });
  req.on('end', () => done(`got ${n}`));
}

for (const protocol of ['http1', 'h2c'] as const) {
  test(`${protocol} upstream: an upload slower than timeouts.response is forwarded whole and answered; no target is judged`, async (t) => {
    const upstream =
      protocol === 'http1'
        ? await listenOnLoopback((req, res) => countBody(req, (text) => res.end(text)))
        : await (async () => {
            const server = http2.createServer((req, res) => countBody(req, (text) => res.end(text)));
            await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
            const { port } = server.address() as net.AddressInfo;
            return {
              url: `http://127.0.0.1:${port}`,
              close: () => new Promise<void>((r) => server.close(() => r())),
            };
          })();
    t.after(() => upstream.close());
    const edge = await startTestGateway(edgeConfig(upstream.url, '30s', protocol));
    t.after(() => edge.close());
    const head = uploadHead(`slow-${protocol}`, SIZE);
    const answer = await rawUpload(edge.port, head, SLOWLY).closed;
    assert.match(answer, /^HTTP\/1\.1 200 /);
    assert.ok(answer.includes(`got ${SIZE}`), JSON.stringify(answer));
    const line = await edge.logFor(`slow-${protocol}`);
    assert.equal(line.status, 200);
    assert.equal(line.error, undefined);
    // What was read of the request: its head and its body (the body alone before noticed, item 3).
    assert.equal(line.bytes_in, head.length + SIZE);
    assert.equal(
      edge.logs.some((l) => l.msg === 'target ejected'),
      false,
    );
  });
}

test("timeouts.total passing while the client's body still arrives: the client's 408, and no target is judged", async (t) => {
  const upstream = await listenOnLoopback((req, res) => countBody(req, (text) => res.end(text)));
  t.after(() => upstream.close());
  const edge = await startTestGateway(edgeConfig(upstream.url, '600ms'));
  t.after(() => edge.close());
  const answer = await rawUpload(edge.port, uploadHead('too-slow', SIZE), SLOWLY).closed;
  assert.match(answer, /^HTTP\/1\.1 408 /);
  assert.match(
    answer,
    /\r\nproxy-status: edge-1; error=http_request_error; details="the request body was still arriving from the client when the total timeout of 600 ms passed"\r\n/,
  );
  const line = await edge.logFor('too-slow');
  assert.equal(line.status, 408);
  assert.equal(line.error, 'http_request_error');
  assert.equal(line.shape, 'client');
  assert.equal(
    edge.logs.some((l) => l.msg === 'target ejected'),
    false,
  );
});

test('timeouts.total passing while an upstream that reads nothing holds the body back: its 504, as before', async (t) => {
  // Takes the head, never reads the body: the gateway's way in fills, and the client waits on it.
  const upstream = await listenOnLoopback((req) => req.pause());
  t.after(() => upstream.close());
  const edge = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
    limits: { buffer: 1KiB }
upstreams:
  app:
    targets: [{ url: ${upstream.url} }]
    timeouts: { response: 300ms, total: 600ms }
    retries: { attempts: 1 }
`);
  t.after(() => edge.close());
  const size = 8 * 1024 * 1024;
  const answer = await rawUpload(edge.port, uploadHead('stuck', size), { first: Buffer.alloc(size, 'x') })
    .closed;
  assert.match(answer, /^HTTP\/1\.1 504 /);
  assert.match(answer, /\r\nproxy-status: edge-1; error=http_response_timeout; /);
  const line = await edge.logFor('stuck');
  assert.equal(line.error, 'http_response_timeout');
});

test("an HTTP/2 client's upload past timeouts.total: its 408 too, no target judged", async (t) => {
  const upstream = await listenOnLoopback((req, res) => countBody(req, (text) => res.end(text)));
  t.after(() => upstream.close());
  const edge = await startTestGateway(edgeConfig(upstream.url, '600ms'), {}, 'http2: true');
  const upload = h2Upload(
    edge.url,
    { ':method': 'POST', ':path': '/up', 'content-length': String(SIZE), 'x-request-id': 'h2-slow' },
    SLOWLY,
  );
  // Hooks run in the order they are added: the upload goes before the gateway's close, which
  // would wait LINGER_MS (2 s) for its session.
  t.after(() => upload.stop());
  t.after(() => edge.close());
  const head = await upload.response;
  assert.equal(head[':status'], 408);
  assert.match(
    String(head['proxy-status']),
    /^edge-1; error=http_request_error; details="the request body was still arriving/,
  );
  const line = await edge.logFor('h2-slow');
  assert.equal(line.shape, 'client');
  assert.equal(
    edge.logs.some((l) => l.msg === 'target ejected'),
    false,
  );
});
