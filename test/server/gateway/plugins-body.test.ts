/**
 * A plugin's `request.body()` and `context.fetch` with a method and a body (issue 57), on real
 * sockets: the body a plugin reads reaches the upstream as the client sent it (and again on a
 * retry); past the plugin's bound a 413, a client that stops sending its 408 (never a 500 blaming
 * the plugin for the client's pace); a route whose plugin does not read the body streams it; a
 * POST to a service of the plugin's own carries its body, and that service's outage is its hop's
 * 502/504 naming it.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import http2 from 'node:http2';
import { after, before, describe, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import type { Plugin } from '../../../src/proxy/stages/plugin-api.ts';
import { rawUpload, request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Reads the whole body (bounded to 16 bytes on /small) and says upstream what it saw. */
const reader: Plugin = () => ({
  async onRequest(request) {
    const bytes = await request.body(request.path.startsWith('/small') ? { limit: 16 } : undefined);
    request.headers.set('x-seen-length', String(bytes.length));
    request.headers.set('x-seen-sha256', sha256(bytes));
    // What the plugin writes into its bytes is its own copy: the upstream gets the client's.
    bytes.fill(0);
  },
});

/** Starts reading the body and goes on without waiting for it. */
let hastyGot: number | undefined;
const hasty: Plugin = () => ({
  onRequest(request) {
    void request.body().then((bytes) => {
      hastyGot = bytes.length;
    });
  },
});
const late: Plugin = () => ({
  async onResponse(_response, request) {
    await request.body();
  },
});

/** Reads nothing of the body: its route streams it as any route does. */
const looker: Plugin = () => ({
  onRequest(request) {
    request.headers.set('x-looked', request.method);
  },
});

/** Posts the request's JSON body to its service (`options.upstream`) and goes on only on its 200. */
const poster: Plugin<{ upstream: string }> = (options, context) => ({
  async onRequest(request) {
    const body = await request.body();
    const answer = await context.fetch(options.upstream, '/verdict', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      request,
    });
    if (answer.status === 200) return;
    return new Response(await answer.text(), { status: 422 });
  },
});

interface Asked {
  method: string;
  contentType: string | undefined;
  contentLength: string | undefined;
  body: string;
}

describe('a plugin reading the request body, and posting to its own service', () => {
  let app: Fault;
  let early: http.Server;
  let service: http.Server;
  let slowService: http.Server;
  let gw: TestGateway;
  const asked: Asked[] = [];
  /** What the early upstream had of the body when it answered. */
  let earlyGot = '';

  before(async () => {
    app = await startEcho();
    // Answers as soon as the first bytes of the body arrive: only a streamed body gets an answer.
    early = http.createServer((req, res) => {
      req.once('data', (chunk: Buffer) => {
        earlyGot = chunk.toString();
        res.writeHead(200, { 'content-length': '2' }).end('ok');
      });
    });
    service = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        asked.push({
          method: req.method ?? '',
          contentType: req.headers['content-type'],
          contentLength: req.headers['content-length'],
          body,
        });
        const ok = (JSON.parse(body) as { ok?: boolean }).ok === true;
        res.writeHead(ok ? 200 : 400, { 'content-type': 'text/plain' }).end(ok ? '' : 'not ok');
      });
    });
    slowService = http.createServer(() => {});
    const listen = (s: http.Server) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    await Promise.all([listen(early), listen(service), listen(slowService)]);
    const portOf = (s: http.Server) => (s.address() as { port: number }).port;
    const closed = await freePort();
    gw = await startTestGateway(
      `limits: { body_idle_timeout: 600ms }
plugins:
  reader: { module: /nonexistent/never-imported.ts, timeout: 200ms }
  looker: { module: /nonexistent/never-imported.ts }
  hasty: { module: /nonexistent/never-imported.ts }
  late: { module: /nonexistent/never-imported.ts }
  poster: { module: /nonexistent/never-imported.ts, options: { upstream: service } }
  poster-down: { module: /nonexistent/never-imported.ts, options: { upstream: down } }
  poster-slow: { module: /nonexistent/never-imported.ts, options: { upstream: slow }, timeout: 2s }
routes:
  - { name: read, match: { path: /read }, upstream: app, plugins: [reader] }
  - { name: small, match: { path: /small }, upstream: app, plugins: [reader] }
  - { name: retry, match: { path: /retry }, upstream: flaky, plugins: [reader] }
  - { name: stream, match: { path: /stream }, upstream: early, request_buffering: false, plugins: [looker] }
  - { name: hasty, match: { path: /hasty }, upstream: app, plugins: [hasty] }
  - { name: late, match: { path: /late }, upstream: app, request_buffering: false, plugins: [late] }
  - { name: post, match: { path: /post }, upstream: app, plugins: [poster] }
  - { name: post-down, match: { path: /down }, upstream: app, plugins: [poster-down] }
  - { name: post-slow, match: { path: /slow }, upstream: app, plugins: [poster-slow] }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
  flaky: { targets: [{ url: http://127.0.0.1:${closed} }, { url: ${app.url} }] }
  early: { targets: [{ url: http://127.0.0.1:${portOf(early)} }], retries: { attempts: 1 } }
  service: { targets: [{ url: http://127.0.0.1:${portOf(service)} }] }
  down: { targets: [{ url: http://127.0.0.1:${closed} }] }
  slow: { targets: [{ url: http://127.0.0.1:${portOf(slowService)} }], timeouts: { response: 300ms } }
`,
      {},
      '',
      { plugins: { reader, looker, hasty, late, poster, 'poster-down': poster, 'poster-slow': poster } },
    );
  });
  after(() => closeAll(gw, app, early, service, slowService));

  const last = () => app.received[app.received.length - 1];

  test('the body a plugin read goes upstream as the client sent it (its own writes into its copy change nothing)', async () => {
    const body = Buffer.from('{"name":"ann","items":[1,2,3]}');
    const res = await request(gw.url, {
      method: 'POST',
      path: '/read',
      body,
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(res.status, 200, res.text);
    const upstream = last();
    assert.equal(upstream.headers['x-seen-length'], String(body.length));
    assert.equal(upstream.headers['x-seen-sha256'], sha256(body));
    assert.equal(upstream.bodyLength, body.length);
    assert.equal(upstream.bodySha256, sha256(body));
  });

  test('a chunked body is read whole and goes upstream with its length', async () => {
    const up = rawUpload(
      gw.port,
      'POST /read HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n',
      { first: '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n' },
    );
    const answer = await up.closed;
    assert.match(answer, /^HTTP\/1\.1 200 /);
    const upstream = last();
    assert.equal(upstream.headers['x-seen-length'], '11');
    assert.equal(upstream.headers['content-length'], '11');
    assert.equal(upstream.bodySha256, sha256(Buffer.from('hello world')));
  });

  test('a request without a body reads as empty bytes', async () => {
    const res = await request(gw.url, { path: '/read' });
    assert.equal(res.status, 200);
    assert.equal(last().headers['x-seen-length'], '0');
    assert.equal(last().bodyLength, 0);
  });

  test("past the plugin's bound: a 413 through the taxonomy, announced or chunked; the upstream is not asked", async () => {
    const before = app.received.length;
    const announced = await request(gw.url, { method: 'POST', path: '/small', body: 'x'.repeat(17) });
    assert.equal(announced.status, 413);
    assert.match(String(announced.headers['proxy-status']), /error=http_request_error/);
    assert.match(String(announced.headers['proxy-status']), /plugin:reader/);
    const chunked = rawUpload(
      gw.port,
      'POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n',
      { first: `14\r\n${'y'.repeat(20)}\r\n0\r\n\r\n` },
    );
    await waitUntil('the chunked 413', () => /\r\n\r\n/.test(chunked.received()));
    chunked.stop();
    assert.match(chunked.received(), /^HTTP\/1\.1 413 /);
    assert.equal(app.received.length, before);
    // Within the bound it goes on.
    assert.equal(
      (await request(gw.url, { method: 'POST', path: '/small', body: 'z'.repeat(16) })).status,
      200,
    );
  });

  test('a body read by a plugin is sent again on a retry (the first target refused it)', async () => {
    const body = Buffer.from('replayed body');
    const before = app.received.length;
    const lines = [];
    for (let i = 0; i < 2; i++) {
      const res = await request(gw.url, { method: 'POST', path: '/retry', body });
      assert.equal(res.status, 200, res.text);
      lines.push(await gw.logFor(res.headers['x-request-id'] as string));
    }
    assert.equal(app.received.length, before + 2);
    for (const got of app.received.slice(before)) assert.equal(got.bodySha256, sha256(body));
    assert.ok(
      lines.some((line) => line.attempts === 2),
      'round robin sent one of the two to the refusing target first',
    );
  });

  test("a client that stops sending is its 408, not the plugin's 500 (its wait for the body is not the plugin's time)", async () => {
    const up = rawUpload(gw.port, 'POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n', {
      first: 'x'.repeat(10),
    });
    const answer = await up.closed;
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.doesNotMatch(answer, /proxy_internal_error/);
  });

  test("a client sending slowly but steadily, longer than the plugin's timeout: the plugin is not blamed", async () => {
    const up = rawUpload(
      gw.port,
      'POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\nConnection: close\r\n\r\n',
      {
        drip: { piece: 'ab', everyMs: 120, pieces: 4 },
      },
    );
    const answer = await up.closed;
    assert.match(answer, /^HTTP\/1\.1 200 /);
    assert.equal(last().headers['x-seen-length'], '8');
  });

  test('a plugin that goes on without waiting for its read: the body goes upstream whole once that read ended', async () => {
    const again = rawUpload(
      gw.port,
      'POST /hasty HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\nConnection: close\r\n\r\n',
      { first: 'abc', drip: { piece: 'def', everyMs: 30, pieces: 2 } },
    );
    assert.match(await again.closed, /^HTTP\/1\.1 200 /);
    assert.equal(hastyGot, 9);
    assert.equal(last().bodySha256, sha256(Buffer.from('abcdefdef')));
  });

  test('body() after the request went upstream (in onResponse) is the plugin’s bug: a 500 naming it', async () => {
    const res = await request(gw.url, { method: 'POST', path: '/late', body: 'streamed' });
    assert.equal(res.status, 500);
    assert.match(String(res.headers['proxy-status']), /details="plugin:late threw in onResponse"/);
  });

  test("a route whose plugin never reads the body streams it (the upstream answers on the body's first bytes)", async () => {
    const up = rawUpload(gw.port, 'POST /stream HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n', {
      first: 'first piece',
    });
    await waitUntil('the streamed answer', () => /^HTTP\/1\.1 200 /.test(up.received()));
    up.stop();
    assert.equal(earlyGot, 'first piece');
  });

  test('context.fetch POSTs a body with its fields; the service’s no is the plugin’s 422', async () => {
    const yes = await request(gw.url, { method: 'POST', path: '/post', body: '{"ok":true}' });
    assert.equal(yes.status, 200, yes.text);
    assert.deepEqual(asked.at(-1), {
      method: 'POST',
      contentType: 'application/json',
      contentLength: '11',
      body: '{"ok":true}',
    });
    assert.equal(last().bodySha256, sha256(Buffer.from('{"ok":true}')), 'the request body went upstream too');
    const no = await request(gw.url, { method: 'POST', path: '/post', body: '{"ok":false}' });
    assert.equal(no.status, 422);
    assert.equal(no.text, 'not ok');
  });

  test("a POST to a service that is down is that hop's 502, naming it; one too slow its 504", async () => {
    const down = await request(gw.url, { method: 'POST', path: '/down', body: '{"ok":true}' });
    assert.equal(down.status, 502);
    assert.match(String(down.headers['proxy-status']), /error=connection_refused/);
    assert.match(String(down.headers['proxy-status']), /next-hop="down"/);
    const slow = await request(gw.url, { method: 'POST', path: '/slow', body: '{"ok":true}' });
    assert.equal(slow.status, 504);
    assert.match(String(slow.headers['proxy-status']), /error=http_response_timeout/);
    assert.match(String(slow.headers['proxy-status']), /next-hop="slow"/);
  });
});

describe('a plugin reading the body of an HTTP/2 request', () => {
  let app: Fault;
  let gw: TestGateway;
  before(async () => {
    app = await startEcho();
    gw = await startTestGateway(
      `plugins:
  reader: { module: /nonexistent/never-imported.ts }
routes:
  - { name: read, match: { path: /read }, upstream: app, plugins: [reader] }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
`,
      {},
      'http2: true',
      { plugins: { reader } },
    );
  });
  after(() => closeAll(gw, app));

  test('its stream’s body is read whole, seen by the plugin and sent upstream as it came', async () => {
    const body = Buffer.from('h2 body '.repeat(1000));
    const session = http2.connect(gw.url);
    session.on('error', () => {});
    try {
      const stream = session.request({ ':method': 'POST', ':path': '/read' });
      stream.end(body);
      const status = await new Promise<number>((resolve, reject) => {
        stream.on('response', (headers) => resolve(Number(headers[':status'])));
        stream.on('error', reject);
      });
      stream.resume();
      await new Promise((r) => stream.on('close', r));
      assert.equal(status, 200);
    } finally {
      session.close();
    }
    const upstream = app.received[app.received.length - 1];
    assert.equal(upstream.headers['x-seen-length'], String(body.length));
    assert.equal(upstream.headers['x-seen-sha256'], sha256(body));
    assert.equal(upstream.bodySha256, sha256(body));
  });
});
