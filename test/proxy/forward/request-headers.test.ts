/**
 * The fields that frame and address the request are the gateway's to send, as it parsed them.
 * A client's Connection header names fields to drop at this hop (RFC 9110 §7.6.1), but one
 * naming Content-Length would otherwise have its body go upstream unframed, where the upstream
 * reads it as a second request the gateway never parsed (smuggling); and a Content-Length with
 * leading zeros goes on as the decimal the gateway framed the body with, not as a string another
 * parser may read otherwise. Fields a CGI-style app would read as the gateway's own (X_Forwarded_For,
 * Proxy) never go on. Raw client, raw upstream recording the exact bytes it received.
 */
import assert from 'node:assert/strict';
import { describe, type TestContext, test } from 'node:test';
import { startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { rawUntil } from '../../helpers/http-client.ts';
import { singleUpstream, startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n';

async function gatewayAndUpstream(t: TestContext, yaml: (url: string) => string = singleUpstream) {
  const fault = await startRawFault(async (connection) => {
    for (;;) {
      await connection.nextRequest({ body: true });
      await connection.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    }
  });
  let gw: TestGateway | undefined;
  t.after(async () => {
    await gw?.close();
    await fault.close();
  });
  gw = await startTestGateway(yaml(fault.url));
  return { fault, gw };
}

const answered = (text: string) => /\r\n\r\nok$/.test(text);

describe('a Connection header naming the fields that frame the request', () => {
  for (const [label, size] of [
    ['a body read whole', 0],
    ['a body streamed (over the route buffer)', 2 * 1024 * 1024],
  ] as const) {
    for (const option of ['content-length', 'Content-Length, close', 'keep-alive, CONTENT-LENGTH']) {
      test(`"Connection: ${option}" with ${label}: the body reaches the upstream framed, never as a request`, async (t) => {
        const { fault, gw } = await gatewayAndUpstream(t);
        const body = 'a'.repeat(size) + SMUGGLED;
        const text = await rawUntil(
          gw.port,
          `POST /upload HTTP/1.1\r\nHost: x\r\nX-Request-Id: conn-cl\r\nConnection: ${option}\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
          answered,
          10_000,
        );
        assert.match(text, /^HTTP\/1\.1 200 /);
        await fault.waitForRequest(1, { body: true });
        // Another turn for a second request to show up, were the body taken for one.
        await new Promise((resolve) => setTimeout(resolve, 100));
        assert.deepEqual(
          fault.received.map((r) => `${r.method} ${r.path}`),
          ['POST /upload'],
          'the upstream saw one request: the body was not read as a second',
        );
        const [got] = fault.received;
        assert.equal(got.headers['content-length'], String(body.length));
        assert.equal(got.bodyLength, body.length);
        assert.equal(got.body.subarray(-SMUGGLED.length).toString(), SMUGGLED);
        assert.equal((await gw.logFor('conn-cl')).status, 200);
      });
    }
  }

  test('"Connection: host": the upstream still gets the Host the client addressed', async (t) => {
    const { fault, gw } = await gatewayAndUpstream(t);
    const text = await rawUntil(
      gw.port,
      'GET /a HTTP/1.1\r\nHost: app.example\r\nConnection: host\r\n\r\n',
      answered,
    );
    assert.match(text, /^HTTP\/1\.1 200 /);
    const got = await fault.waitForRequest(1);
    assert.equal(got.headers.host, 'app.example');
  });

  test('other fields the Connection header names are still dropped', async (t) => {
    const { fault, gw } = await gatewayAndUpstream(t);
    await rawUntil(
      gw.port,
      'GET /a HTTP/1.1\r\nHost: x\r\nConnection: content-length, x-debug\r\nX-Debug: 1\r\n\r\n',
      answered,
    );
    const got = await fault.waitForRequest(1);
    assert.equal(got.headers['x-debug'], undefined);
  });
});

describe('a Content-Length with leading zeros', () => {
  test('reaches the upstream as the plain decimal the gateway framed the body with', async (t) => {
    const { fault, gw } = await gatewayAndUpstream(t);
    const body = '0123456789';
    const text = await rawUntil(
      gw.port,
      `POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 0010\r\n\r\n${body}`,
      answered,
    );
    assert.match(text, /^HTTP\/1\.1 200 /);
    const got = await fault.waitForRequest(1, { body: true });
    const lengths = got.rawHeaders.filter(([name]) => name.toLowerCase() === 'content-length');
    assert.deepEqual(lengths, [['Content-Length', '10']], 'one field, "0010" as 10');
    assert.equal(got.body.toString(), body);
  });
});

describe('an HTTP/1.0 request without Host', () => {
  test('with an absolute-form target: that authority is the Host the upstream gets (RFC 9112 §3.2.2)', async (t) => {
    // It got the target's own address as Host, while X-Forwarded-Host and the route said abs.example.
    const { fault, gw } = await gatewayAndUpstream(t);
    const text = await rawUntil(gw.port, 'GET http://abs.example/p HTTP/1.0\r\n\r\n', answered);
    assert.match(text, /^HTTP\/1\.1 200 /);
    const got = await fault.waitForRequest(1);
    assert.equal(got.path, '/p');
    assert.deepEqual(
      got.rawHeaders.filter(([name]) => name.toLowerCase() === 'host'),
      [['host', 'abs.example']],
    );
    assert.equal(got.headers['x-forwarded-host'], 'abs.example');
  });

  test('in origin form: no host is said for it (no empty X-Forwarded-Host, no host="" in Forwarded)', async (t) => {
    const { fault, gw } = await gatewayAndUpstream(t);
    const text = await rawUntil(gw.port, 'GET /p HTTP/1.0\r\n\r\n', answered);
    assert.match(text, /^HTTP\/1\.1 200 /);
    const got = await fault.waitForRequest(1);
    assert.equal(got.headers['x-forwarded-host'], undefined);
    assert.equal(got.headers.forwarded, 'for=127.0.0.1;proto=http');
  });
});

describe('a field spelled with "_" where the gateway writes the "-" spelling', () => {
  // CGI-style servers read X_Forwarded_For and X-Forwarded-For as one HTTP_X_FORWARDED_FOR:
  // the client's stood beside the gateway's (Puma before 6.4.3 took it: CVE-2024-45614).
  test('X_Forwarded_For, X-Forwarded_Proto, X_Real_IP, X_Request_Id never reach the upstream; X_Custom does', async (t) => {
    const { fault, gw } = await gatewayAndUpstream(t);
    const text = await rawUntil(
      gw.port,
      'GET /a HTTP/1.1\r\nHost: x\r\nX_Forwarded_For: 6.6.6.6\r\nX-Forwarded_Proto: https\r\n' +
        'X_FORWARDED_HOST: evil.example\r\nX_Real_IP: 6.6.6.6\r\nTrue_Client_IP: 6.6.6.6\r\n' +
        'X_Request_Id: forged\r\nX_Custom: kept\r\n\r\n',
      answered,
    );
    assert.match(text, /^HTTP\/1\.1 200 /);
    const got = await fault.waitForRequest(1);
    const underscored = got.rawHeaders.filter(([name]) => name.includes('_'));
    assert.deepEqual(underscored, [['X_Custom', 'kept']]);
    assert.equal(got.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(got.headers['x-forwarded-proto'], 'http');
    assert.equal(got.headers['x-forwarded-host'], 'x');
  });
});

describe('a hop-by-hop or framing field spelled with "_"', () => {
  // A CGI-style server makes Transfer_Encoding HTTP_TRANSFER_ENCODING, which WSGI apps read as
  // a framing hint for the body this hop framed with Content-Length (RFC 9112 §6.1, RFC 9110 §7.6.1).
  test('Transfer_Encoding, Content_Length, Keep_Alive, Proxy_Connection, HTTP2_Settings never reach the upstream', async (t) => {
    const { fault, gw } = await gatewayAndUpstream(t);
    const text = await rawUntil(
      gw.port,
      'POST /a HTTP/1.1\r\nHost: x\r\nTransfer_Encoding: chunked\r\nCONTENT_LENGTH: 99\r\n' +
        'Keep_Alive: timeout=5\r\nProxy_Connection: keep-alive\r\nHTTP2_Settings: AAMAAABkAAQAAP__\r\n' +
        'X_Custom: kept\r\nContent-Length: 2\r\n\r\nhi',
      answered,
    );
    assert.match(text, /^HTTP\/1\.1 200 /);
    const got = await fault.waitForRequest(1, { body: true });
    const underscored = got.rawHeaders.filter(([name]) => name.includes('_'));
    assert.deepEqual(underscored, [['X_Custom', 'kept']]);
    assert.equal(got.headers['content-length'], '2');
    assert.equal(got.body.toString(), 'hi');
  });
});

describe('a Proxy field (httpoxy)', () => {
  // A CGI-style server makes Proxy HTTP_PROXY, which HTTP client libraries take as their
  // outbound proxy (httpoxy, CVE-2016-5385): the app's calls out went through the client's server.
  test('never reaches the upstream, in any case', async (t) => {
    const { fault, gw } = await gatewayAndUpstream(t);
    const text = await rawUntil(
      gw.port,
      'GET /a HTTP/1.1\r\nHost: x\r\nProxy: http://evil.example:8080\r\nPROXY: http://evil.example\r\n\r\n',
      answered,
    );
    assert.match(text, /^HTTP\/1\.1 200 /);
    const got = await fault.waitForRequest(1);
    assert.deepEqual(
      got.rawHeaders.filter(([name]) => name.toLowerCase() === 'proxy'),
      [],
    );
  });
});

describe('a Proxy-Authorization field', () => {
  // RFC 9110 §11.7.2: proxy credentials are for the proxy that asked for them. This one never
  // does (it sends no 407), and the app behind it is no proxy: `curl -x gateway --proxy-user`
  // handed the user's proxy password to the app.
  test('never reaches the upstream, in any case, absolute-form as a client of a forward proxy sends it', async (t) => {
    const { fault, gw } = await gatewayAndUpstream(t);
    const text = await rawUntil(
      gw.port,
      `GET http://x/a HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Basic dTpwcm94eS1wYXNzd29yZA==\r\nproxy-authorization: Basic dTpw\r\nX-Custom: kept\r\n\r\n`,
      answered,
    );
    assert.match(text, /^HTTP\/1\.1 200 /);
    const got = await fault.waitForRequest(1);
    assert.equal(got.path, '/a');
    assert.deepEqual(
      got.rawHeaders.filter(([name]) => name.toLowerCase() === 'proxy-authorization'),
      [],
    );
    assert.equal(got.headers['x-custom'], 'kept');
  });
});

describe('a path-override field (X-Original-URL, X-Rewrite-URL)', () => {
  // IIS, Symfony and Laravel serve the path these name over the request line's: the gateway
  // routed and judged /public while the upstream would serve /admin (auth and allow/deny bypassed).
  const FORGED =
    'X-Original-URL: /admin\r\nx-rewrite-url: /admin\r\nX_Original_URL: /admin\r\nX-Rewrite_Url: /admin\r\nX-Custom: kept\r\n';
  const overrides = (rawHeaders: readonly (readonly [string, string])[]) =>
    rawHeaders.filter(([name]) => /^x[-_](original|rewrite)[-_]url$/i.test(name));

  test('never reaches the upstream from an untrusted client, in any spelling', async (t) => {
    const { fault, gw } = await gatewayAndUpstream(t);
    const text = await rawUntil(gw.port, `GET /public HTTP/1.1\r\nHost: x\r\n${FORGED}\r\n`, answered);
    assert.match(text, /^HTTP\/1\.1 200 /);
    const got = await fault.waitForRequest(1);
    assert.equal(got.path, '/public');
    assert.deepEqual(overrides(got.rawHeaders), []);
    assert.equal(got.headers['x-custom'], 'kept');
  });

  test('never reaches the upstream from a proxy in trust_forwarded_from either', async (t) => {
    const { fault, gw } = await gatewayAndUpstream(t, (url) =>
      singleUpstream(url, { extra: 'trust_forwarded_from: [127.0.0.1]' }),
    );
    const text = await rawUntil(
      gw.port,
      `GET /public HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.7\r\n${FORGED}\r\n`,
      answered,
    );
    assert.match(text, /^HTTP\/1\.1 200 /);
    const got = await fault.waitForRequest(1);
    assert.deepEqual(overrides(got.rawHeaders), []);
    assert.equal(
      got.headers['x-forwarded-for'],
      '203.0.113.7, 127.0.0.1',
      'the trusted proxy is still trusted',
    );
  });

  test("a route's request_headers rule still sets one (the operator's word, not the client's)", async (t) => {
    const { fault, gw } = await gatewayAndUpstream(
      t,
      (url) => `name: edge-1
routes:
  - match: { path: / }
    upstream: app
    request_headers: { set: { X-Original-URL: /legacy } }
upstreams:
  app:
    targets: [{ url: ${url} }]
`,
    );
    const text = await rawUntil(gw.port, `GET /public HTTP/1.1\r\nHost: x\r\n${FORGED}\r\n`, answered);
    assert.match(text, /^HTTP\/1\.1 200 /);
    const got = await fault.waitForRequest(1);
    assert.deepEqual(overrides(got.rawHeaders), [['X-Original-URL', '/legacy']]);
  });
});

describe("a trusted proxy's X-Forwarded-Host", () => {
  // HAProxy's `http-request add-header X-Forwarded-Host …` (or a list extended) writes the proxy's
  // word after whatever its client sent: the first line or entry is the client's, and an app builds
  // its absolute links (and a cache in front stores them) from the host it reads there.
  const forwardedHosts = (rawHeaders: readonly (readonly [string, string])[]) =>
    rawHeaders.filter(([name]) => name.toLowerCase() === 'x-forwarded-host').map(([, value]) => value);

  test('reaches the upstream as the proxy wrote it last, once, never a host its client put before it', async (t) => {
    const { fault, gw } = await gatewayAndUpstream(t, (url) =>
      singleUpstream(url, { extra: 'trust_forwarded_from: [127.0.0.1]' }),
    );
    const asked = [
      'X-Forwarded-Host: evil.example\r\nX-Forwarded-Host: www.example.com\r\n',
      'X-Forwarded-Host: evil.example, www.example.com\r\n',
      'X-Forwarded-Host: www.example.com\r\n',
    ];
    for (const [i, fields] of asked.entries()) {
      const text = await rawUntil(gw.port, `GET /p HTTP/1.1\r\nHost: x\r\n${fields}\r\n`, answered);
      assert.match(text, /^HTTP\/1\.1 200 /);
      const got = await fault.waitForRequest(i + 1);
      assert.deepEqual(forwardedHosts(got.rawHeaders), ['www.example.com'], fields);
    }
  });

  test("an untrusted client's never reaches the upstream: the Host it addressed does", async (t) => {
    const { fault, gw } = await gatewayAndUpstream(t);
    const text = await rawUntil(
      gw.port,
      'GET /p HTTP/1.1\r\nHost: x\r\nX-Forwarded-Host: evil.example\r\n\r\n',
      answered,
    );
    assert.match(text, /^HTTP\/1\.1 200 /);
    const got = await fault.waitForRequest(1);
    assert.deepEqual(forwardedHosts(got.rawHeaders), ['x']);
  });
});
