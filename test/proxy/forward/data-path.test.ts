/**
 * The data path against a well-behaved upstream: what the upstream receives, what the
 * client gets back, and that bodies stream whole in both directions.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { type EchoBody, patternBytes, startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { rawRequest, request } from '../../helpers/http-client.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const config = (url: string, extra = '') => `name: edge-1
routes:
  - match: { path: /v1 }
    upstream: app
    strip_prefix: true
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${url}
${extra}`;

const echoed = (text: string): EchoBody => JSON.parse(text);

describe('the data path', () => {
  let fault: Fault;
  let gw: TestGateway;
  before(async () => {
    fault = await startEcho();
    gw = await startTestGateway(config(fault.url));
  });
  after(async () => {
    await gw.close();
    await fault.close();
  });

  test('hop-by-hop request headers, and those Connection names, do not reach the upstream', async () => {
    const res = await request(gw.url, {
      path: '/hop',
      headers: {
        connection: 'keep-alive, x-debug',
        'x-debug': '1',
        'keep-alive': 'timeout=99',
        te: 'trailers',
        'proxy-connection': 'keep-alive',
        'x-kept': 'yes',
      },
    });
    const seen = echoed(res.text).headers;
    assert.equal(seen['x-debug'], undefined);
    assert.equal(seen['keep-alive'], undefined);
    assert.equal(seen.te, undefined);
    assert.equal(seen['proxy-connection'], undefined);
    assert.notEqual(seen.connection, 'keep-alive, x-debug');
    assert.equal(seen['x-kept'], 'yes');
  });

  test('hop-by-hop response headers, and those Connection names, do not reach the client', async () => {
    const res = await request(gw.url, {
      path: '/?header=connection:x-secret&header=x-secret:1&header=keep-alive:timeout=99&header=x-kept:yes',
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-secret'], undefined);
    assert.notEqual(res.headers['keep-alive'], 'timeout=99');
    assert.equal(res.headers['x-kept'], 'yes');
  });

  test('X-Forwarded-* and Forwarded from an untrusted client are replaced, not trusted', async () => {
    const res = await request(gw.url, {
      path: '/xff',
      headers: {
        'x-forwarded-for': '6.6.6.6',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'evil.example',
        forwarded: 'for=6.6.6.6',
        host: 'shop.example:8080',
      },
    });
    const seen = echoed(res.text).headers;
    assert.equal(seen['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen['x-forwarded-proto'], 'http');
    assert.equal(seen['x-forwarded-host'], 'shop.example:8080');
    // RFC 7239: this hop's element alone; the Host has a colon, so it is quoted.
    assert.equal(seen.forwarded, 'for=127.0.0.1;host="shop.example:8080";proto=http');
    assert.equal(seen.host, 'shop.example:8080', 'the Host is preserved');
  });

  test("an untrusted client's other statements of who and where it is (X-Real-IP, True-Client-IP, X-Forwarded-Port, -Ssl, -Prefix, X-Original-Host, X-Url-Scheme…) do not reach the upstream", async () => {
    // Frameworks read these as a proxy's word (Rack's X-Forwarded-Ssl makes the request https,
    // Spring's and Werkzeug's X-Forwarded-Prefix and -Port build its URLs, nginx's realip module
    // and many apps take X-Real-IP as the client): only a proxy in trust_forwarded_from may say them.
    const forged = {
      'x-real-ip': '6.6.6.6',
      'true-client-ip': '6.6.6.7',
      'x-client-ip': '6.6.6.8',
      'x-cluster-client-ip': '6.6.6.9',
      'cf-connecting-ip': '6.6.6.10',
      'fastly-client-ip': '6.6.6.11',
      'x-forwarded-port': '443',
      'x-forwarded-ssl': 'on',
      'x-forwarded-scheme': 'https',
      'x-forwarded-prefix': '/admin',
      'x-forwarded-server': 'evil.example',
      'x-forwarded-uri': '/admin',
      'x-forwarded-method': 'GET',
      'x-original-host': 'evil.example',
      'x-host': 'evil.example',
      'x-http-host-override': 'evil.example',
      'x-url-scheme': 'https',
      'front-end-https': 'on',
    };
    const res = await request(gw.url, {
      path: '/forged',
      headers: { ...forged, 'x-forwarded-fun': 'kept?' },
    });
    const seen = echoed(res.text).headers;
    for (const name of [...Object.keys(forged), 'x-forwarded-fun']) assert.equal(seen[name], undefined, name);
    assert.equal(seen['x-forwarded-for'], '127.0.0.1');
    const trusted = await startTestGateway(config(fault.url, 'trust_forwarded_from: [127.0.0.1]'));
    try {
      const kept = echoed((await request(trusted.url, { path: '/forged', headers: forged })).text).headers;
      for (const [name, value] of Object.entries(forged))
        assert.equal(kept[name], value, `${name} from a trusted proxy`);
    } finally {
      await trusted.close();
    }
  });

  test("Via is appended on both sides; an untrusted client's X-Request-Id is replaced, upstream and downstream alike, and logged", async () => {
    const res = await request(gw.url, {
      path: '/via',
      headers: { via: '1.1 cdn', 'x-request-id': 'abc-123' },
    });
    const seen = echoed(res.text).headers;
    assert.equal(seen.via, '1.1 cdn, 1.1 edge-1');
    assert.equal(res.headers.via, '1.1 edge-1');
    const id = String(res.headers['x-request-id']);
    assert.match(id, /^[0-9a-f-]{36}$/);
    assert.equal(seen['x-request-id'], id);
    assert.equal((await gw.logFor(id)).client_req_id, 'abc-123');
  });

  test('a malformed X-Request-Id is replaced by a generated one, upstream and downstream alike', async () => {
    const res = await request(gw.url, { path: '/id', headers: { 'x-request-id': 'bad id with spaces' } });
    const id = res.headers['x-request-id'] as string;
    assert.match(id, /^[0-9a-f-]{36}$/);
    assert.equal(echoed(res.text).headers['x-request-id'], id);
    assert.equal((await gw.logFor(id)).req_id, id);
  });

  test('a valid traceparent is continued with a new parent id; tracestate is kept', async () => {
    const parent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const res = await request(gw.url, {
      path: '/trace',
      headers: { traceparent: parent, tracestate: 'vendor=1' },
    });
    const seen = echoed(res.text).headers;
    assert.match(seen.traceparent, /^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
    assert.notEqual(seen.traceparent, parent);
    assert.equal(seen.tracestate, 'vendor=1');
  });

  test('an invalid traceparent starts a new trace and drops tracestate', async () => {
    const res = await request(gw.url, {
      path: '/trace',
      headers: { traceparent: 'garbage', tracestate: 'vendor=1' },
    });
    const seen = echoed(res.text).headers;
    assert.match(seen.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    assert.equal(seen.tracestate, undefined);
  });

  test('strip_prefix removes the route prefix on segment boundaries', async () => {
    assert.equal(echoed((await request(gw.url, { path: '/v1/users?page=2' })).text).url, '/users?page=2');
    assert.equal(echoed((await request(gw.url, { path: '/v1' })).text).url, '/');
    assert.equal(echoed((await request(gw.url, { path: '/v1?q=1' })).text).url, '/?q=1');
    assert.equal(
      echoed((await request(gw.url, { path: '/v10/x' })).text).url,
      '/v10/x',
      '/v10 is not under /v1',
    );
  });

  test('an absolute-form request target is routed by its authority and sent in origin form', async () => {
    const exchange = await rawRequest(
      gw.port,
      'GET http://abs.example/v1/a?b=1 HTTP/1.1\r\nHost: other\r\nConnection: close\r\n\r\n',
    );
    assert.equal(exchange.status, 200);
    const body = echoed(
      exchange.raw.slice(exchange.raw.indexOf('\r\n\r\n') + 4).replace(/^[0-9a-f]+\r\n|\r\n0\r\n\r\n$/g, ''),
    );
    assert.equal(body.url, '/a?b=1');
  });

  test('HEAD gets the head only, with the length the body would have', async () => {
    const res = await request(gw.url, { method: 'HEAD', path: '/?bytes=1000' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-length'], '1000');
    assert.equal(res.body.length, 0);
  });

  test('trailers pass through on a chunked response', async () => {
    const res = await request(gw.url, { path: '/?bytes=5000&trailers=1', headers: { te: 'trailers' } });
    assert.equal(res.status, 200);
    assert.equal(res.trailers['x-body-sha256'], createHash('sha256').update(res.body).digest('hex'));
  });

  test('103 Early Hints reach an HTTP/1.1 client before the final response', async () => {
    const hints: number[] = [];
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.get(`${gw.url}/?early_hints=1`, { agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('information', (info) => hints.push(info.statusCode));
      req.on('error', reject);
    });
    assert.deepEqual(hints, [103]);
    assert.equal(status, 200);
  });

  test('a 4 MiB download and a 4 MiB upload stream through whole', async () => {
    const size = 4 * 1024 * 1024;
    const down = await request(gw.url, { path: `/?bytes=${size}&chunked=1` });
    assert.equal(down.body.length, size);
    assert.ok(down.body.equals(patternBytes(size)));
    const body = patternBytes(size, 7);
    const up = await request(gw.url, {
      method: 'POST',
      path: '/upload',
      body,
      headers: { 'content-type': 'application/octet-stream', 'x-request-id': 'up-4m' },
    });
    const seen = echoed(up.text);
    assert.equal(seen.bodyLength, size);
    assert.equal(seen.bodySha256, createHash('sha256').update(body).digest('hex'));
    const line = await gw.logFor('up-4m');
    // The body and the head node:http wrote before it (the body alone before noticed, item 3;
    // test/proxy/session/bytes-in.test.ts holds the head's count to the byte).
    const head = (line.bytes_in as number) - size;
    assert.ok(head > 'POST /upload HTTP/1.1\r\n\r\n'.length && head < 512, `head bytes: ${head}`);
    assert.equal(line.bytes_out, up.body.length);
  });

  test('a chunked upload streams through with its length unknown in advance', async () => {
    const body = patternBytes(300_000);
    const res = await new Promise<string>((resolve, reject) => {
      const req = http.request(`${gw.url}/chunked`, { method: 'PUT', agent: false }, (r) => {
        let text = '';
        r.on('data', (c) => {
          text += c;
        });
        r.on('end', () => resolve(text));
      });
      req.on('error', reject);
      req.write(body.subarray(0, 100_000));
      setTimeout(() => req.end(body.subarray(100_000)), 20);
    });
    assert.equal(echoed(res).bodyLength, body.length);
  });
});

describe('connection facts in the log', () => {
  test('a new upstream connection logs its connect time; a pooled one is marked reused', async () => {
    const fault = await startEcho();
    const gw = await startTestGateway(config(fault.url));
    try {
      await request(gw.url, { path: '/a', headers: { 'x-request-id': 'first' } });
      await request(gw.url, { path: '/b', headers: { 'x-request-id': 'second' } });
      const first = await gw.logFor('first');
      const second = await gw.logFor('second');
      assert.equal(first.reused, false);
      assert.ok((first.connect_ms as number) > 0);
      assert.equal(second.reused, true);
      assert.equal(second.connect_ms, 0);
      assert.equal(fault.connections, 1, 'the second request reused the pooled connection');
      assert.ok((second.ttfb_ms as number) <= (second.total_ms as number));
    } finally {
      await gw.close();
      await fault.close();
    }
  });
});

describe('a client that goes away', () => {
  test('cancels its upstream request, and the log says so', async () => {
    const fault = await startEcho();
    const gw = await startTestGateway(config(fault.url));
    try {
      const req = http.get(`${gw.url}/?delay=5000`, { agent: false, headers: { 'x-request-id': 'gone' } });
      req.on('error', () => {});
      await fault.waitForRequest(1);
      req.destroy();
      const end = await fault.connectionLog[0].ended;
      assert.ok(end === 'fin' || end === 'reset', 'the upstream connection was closed by the gateway');
      const line = await gw.logFor('gone');
      assert.equal(line.client_aborted, true);
      assert.equal(line.status, 499);
    } finally {
      await gw.close();
      await fault.close();
    }
  });
});

describe('upgrades', () => {
  test('a WebSocket handshake gets its 101 and the tunnel carries bytes both ways', async () => {
    const fault = await startEcho();
    const gw = await startTestGateway(config(fault.url));
    try {
      const { status, headers, echoedBack } = await new Promise<{
        status: number;
        headers: http.IncomingHttpHeaders;
        echoedBack: string;
      }>((resolve, reject) => {
        const req = http.request(`${gw.url}/v1/socket`, {
          agent: false,
          headers: {
            connection: 'Upgrade',
            upgrade: 'websocket',
            'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
            'sec-websocket-version': '13',
            'x-request-id': 'ws-1',
          },
        });
        req.on('upgrade', (res, socket) => {
          socket.write('ping through the tunnel');
          socket.once('data', (data: Buffer) => {
            socket.destroy();
            resolve({ status: res.statusCode ?? 0, headers: res.headers, echoedBack: data.toString() });
          });
        });
        req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
        req.on('error', reject);
        req.end();
      });
      assert.equal(status, 101);
      assert.equal(headers['sec-websocket-accept'], 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
      assert.equal(headers.via, '1.1 edge-1');
      assert.match(String(headers['x-request-id']), /^[0-9a-f-]{36}$/, "the gateway's id");
      assert.equal(echoedBack, 'ping through the tunnel');
      const seen = fault.received[0];
      assert.equal(seen.path, '/socket', 'strip_prefix applies to upgrades too');
      assert.equal(seen.headers.upgrade, 'websocket');
      assert.equal(seen.headers['sec-websocket-key'], 'dGhlIHNhbXBsZSBub25jZQ==');
      const line = await gw.logFor('ws-1');
      assert.equal(line.status, 101);
      assert.equal(line.upgraded, true);
    } finally {
      await gw.close();
      await fault.close();
    }
  });

  test('an upgrade to a refused upstream is a 502 connection_refused', async () => {
    const gw = await startTestGateway(config('http://127.0.0.1:1'));
    try {
      const exchange = await rawRequest(
        gw.port,
        'GET /chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nAccept: application/json\r\n\r\n',
      );
      assert.equal(exchange.status, 502);
      assert.match(exchange.raw, /proxy-status: edge-1; error=connection_refused;/);
      assert.match(exchange.raw, /"error":"connection_refused"/);
    } finally {
      await gw.close();
    }
  });
});

test("a trusted proxy's Forwarded and X-Forwarded-For are kept, this hop's client appended to each; one that sent no Forwarded gets none", async () => {
  const fault = await startEcho();
  const gw = await startTestGateway(config(fault.url, 'trust_forwarded_from: [127.0.0.1]'));
  try {
    const res = await request(gw.url, {
      path: '/trusted',
      headers: {
        'x-forwarded-for': '192.0.2.60',
        forwarded: 'for=192.0.2.60;proto=https;host=shop.example',
        host: 'shop.example',
      },
    });
    const seen = echoed(res.text).headers;
    assert.equal(seen['x-forwarded-for'], '192.0.2.60, 127.0.0.1');
    // The scheme it vouched for (proto=https) is the request's: this hop's element and
    // X-Forwarded-Proto say it too, never the plain listener's http.
    assert.equal(
      seen.forwarded,
      'for=192.0.2.60;proto=https;host=shop.example, for=127.0.0.1;host=shop.example;proto=https',
    );
    assert.equal(seen['x-forwarded-proto'], 'https');
    // Its X-Forwarded-Proto says https: an element of this hop alone (proto=http) would be read
    // as the client's by frameworks that prefer Forwarded.
    const xOnly = await request(gw.url, {
      path: '/trusted',
      headers: { 'x-forwarded-for': '192.0.2.60', 'x-forwarded-proto': 'https', host: 'shop.example' },
    });
    const xSeen = echoed(xOnly.text).headers;
    assert.equal(xSeen['x-forwarded-proto'], 'https');
    assert.equal(xSeen.forwarded, undefined);
  } finally {
    await gw.close();
    await fault.close();
  }
});
