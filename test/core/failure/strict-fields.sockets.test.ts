/**
 * Every structured field the gateway writes, read by a strict RFC 8941 reader
 * (test/helpers/structured-fields.ts, apart from the gateway's own code), as a client's would:
 * Proxy-Status (RFC 9209) for each row of the failure table over HTTP/1.1, HTTP/2 and to a gRPC
 * client, for the gateway's own decisions and its answers to hostile requests; Cache-Status
 * (RFC 9211) for each outcome of a route's cache. Each must parse; Proxy-Status's `error` is a
 * registered type, `details`, `next-hop` and `rcode` strings, `received-status` and `alert-id`
 * integers, no parameter said twice (the reader refuses one), the member's name a token.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import http2, { type IncomingHttpHeaders } from 'node:http2';
import net from 'node:net';
import { after, describe, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { startMoodyOrigin } from '../../helpers/moody-origin.ts';
import { memberOf, type SfBareItem, type SfMember, strictList } from '../../helpers/structured-fields.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';
import { ROWS, upstreamOf } from './failure-rows.ts';

/** RFC 9209 §2.3's registry. */
const REGISTERED = new Set(
  'dns_timeout dns_error destination_not_found destination_unavailable destination_ip_prohibited destination_ip_unroutable connection_refused connection_terminated connection_timeout connection_read_timeout connection_write_timeout connection_limit_reached tls_protocol_error tls_certificate_error tls_alert_received http_request_error http_request_denied http_response_incomplete http_response_header_section_size http_response_header_size http_response_body_size http_response_trailer_section_size http_response_trailer_size http_response_transfer_coding http_response_content_coding http_response_timeout http_upgrade_failed http_protocol_error proxy_internal_response proxy_internal_error proxy_configuration_error proxy_loop_detected'.split(
    ' ',
  ),
);

/** Each RFC 9209 parameter and the type RFC 9209 §2.1 gives its value. */
const PARAM_TYPES: Record<string, readonly SfBareItem['type'][]> = {
  error: ['token'],
  'next-hop': ['string', 'token'],
  'next-protocol': ['binary', 'token'],
  'received-status': ['integer'],
  details: ['string'],
  rcode: ['string'],
  'info-code': ['integer'],
  'alert-id': ['integer'],
  'alert-message': ['string'],
};

/** The gateway's Proxy-Status, strictly read: one member (none from behind), checked parameter by parameter. */
function strictProxyStatus(value: string | string[] | undefined): Map<string, SfBareItem> {
  const list = strictList(value);
  assert.equal(list.length, 1, `one member: ${value}`);
  const { name, nameType, params } = memberOf(list[0] as SfMember);
  assert.equal(name, 'edge-1');
  assert.equal(nameType, 'token');
  for (const [key, item] of params) {
    assert.ok(PARAM_TYPES[key]?.includes(item.type), `${key} as ${item.type}: ${value}`);
    if (key === 'error') assert.ok(REGISTERED.has(String(item.value)), `${item.value} is registered`);
  }
  return params;
}

const keep = closeAfterAll();

function ask(
  session: http2.ClientHttp2Session,
  fields: http2.OutgoingHttpHeaders,
  body?: Buffer,
): Promise<IncomingHttpHeaders> {
  return new Promise((resolve, reject) => {
    const stream = session.request(fields);
    const timer = setTimeout(() => reject(new Error('no answer within 5 s')), 5000);
    let headers: IncomingHttpHeaders = {};
    stream.on('response', (h) => {
      headers = h;
    });
    stream.on('error', () => {});
    stream.resume();
    stream.on('close', () => {
      clearTimeout(timer);
      resolve(headers);
    });
    stream.end(body);
  });
}

const MESSAGE = Buffer.from([0, 0, 0, 0, 2, 0x08, 0x01]);

describe('the failure table, strictly read, over HTTP/1.1, HTTP/2 and gRPC', () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  for (const row of ROWS)
    test(row.name, async () => {
      const fault = (await row.start()) as Fault;
      cleanups.push(() => fault.close());
      const gw = await startTestGateway(
        singleUpstream(fault.url, { upstream: upstreamOf(row, fault) }),
        {},
        'http2: true',
      );
      cleanups.push(() => gw.close());
      const plain = await request(gw.url, { path: '/a' });
      assert.equal(plain.status, row.status);
      const params = strictProxyStatus(plain.headers['proxy-status']);
      assert.equal(params.get('next-hop')?.value, 'app');
      assert.equal(params.get('details')?.type, 'string');
      const session = http2.connect(gw.url);
      session.on('error', () => {});
      cleanups.push(async () => void session.close());
      const h2 = await ask(session, { ':path': '/b' });
      assert.equal(h2[':status'], row.status);
      strictProxyStatus(h2['proxy-status']);
      const grpc = await ask(
        session,
        { ':method': 'POST', ':path': '/p.S/M', 'content-type': 'application/grpc', te: 'trailers' },
        MESSAGE,
      );
      assert.equal(grpc[':status'], 200);
      strictProxyStatus(grpc['proxy-status']);
    });
});

test("the gateway's own decisions and its answers to hostile requests, strictly read", async () => {
  const upstream = await keep(
    (() => {
      const server = http.createServer((_req, res) => res.end('ok'));
      return new Promise<{ url: string; close(): Promise<void> }>((resolve) =>
        server.listen(0, '127.0.0.1', () =>
          resolve({
            url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
            close: () => new Promise((done) => server.close(() => done())),
          }),
        ),
      );
    })(),
  );
  const gw = await keep(
    startTestGateway(`name: edge-1
routes:
  - match: { path: /limited }
    upstream: app
    rate_limit: { rate: 0.002, burst: 1 }
  - match: { path: /app }
    upstream: app
upstreams:
  app:
    targets: [{ url: "${upstream.url}" }]
`),
  );
  const cases: ReadonlyArray<
    [string, () => Promise<{ status: number; headers: http.IncomingHttpHeaders }>, number]
  > = [
    ['no route', () => request(gw.url, { path: '/nowhere' }), 404],
    ['a loop', () => request(gw.url, { path: '/app', headers: { via: '1.1 edge-1' } }), 502],
    [
      'a rate limit',
      async () => {
        await request(gw.url, { path: '/limited' });
        return request(gw.url, { path: '/limited' });
      },
      429,
    ],
    ['TRACE', () => request(gw.url, { path: '/app', method: 'TRACE' }), 405],
    ['an Expect of its own', () => request(gw.url, { path: '/app', headers: { expect: 'x"\\\u00e9' } }), 417],
  ];
  for (const [name, ask, status] of cases) {
    const res = await ask();
    assert.equal(res.status, status, name);
    strictProxyStatus(res.headers['proxy-status']);
  }
  // A request line no parser takes, with quotes, a backslash, bytes past ASCII and a control byte.
  for (const line of [
    'GET /a"b\\c\u00e9\x01 HTTP/1.1',
    `GET /${'"\\'.repeat(5000)} HTTP/1.1`,
    'G\u00c9T / HTTP/1.1',
  ]) {
    const head = await rawHead(gw.port, `${line}\r\nHost: x\r\n\r\n`);
    const field = /\r\nproxy-status: ([^\r]*)\r\n/i.exec(head)?.[1];
    assert.ok(field !== undefined, head.slice(0, 200));
    strictProxyStatus(field);
    assert.ok(field.length < 2048, `bounded: ${field.length}`);
  }
});

/** A raw request's answer head, as latin1 text. */
function rawHead(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.end(Buffer.from(text, 'latin1')));
    let got = '';
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => {
      got += c;
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(got.split('\r\n\r\n')[0]));
  });
}

test("every outcome of a route's cache, strictly read", async () => {
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=2, stale-if-error=600', 'ETag', '"v1"', 'Vary', 'Accept-Language'],
    body: 'page',
  });
  keep({ close: () => origin.stop() });
  const gw = await keep(
    startTestGateway(`name: edge-1
routes:
  - upstream: app
    cache: {}
upstreams:
  app:
    timeouts: { response: 400ms }
    targets: [{ url: "${origin.url}" }]
    retries: { attempts: 1 }
`),
  );
  const said: string[] = [];
  const cacheStatus = async (path: string, headers: http.OutgoingHttpHeaders = {}, method = 'GET') => {
    const res = await request(gw.url, { path, headers, method });
    const value = res.headers['cache-status'];
    if (value !== undefined) {
      const list = strictList(value);
      assert.equal(list.length, 1, String(value));
      const { name, nameType, params } = memberOf(list[0] as SfMember);
      assert.equal(name, 'edge-1');
      assert.equal(nameType, 'token');
      for (const [key, item] of params) {
        const type = {
          hit: 'boolean',
          fwd: 'token',
          'fwd-status': 'integer',
          ttl: 'integer',
          stored: 'boolean',
          collapsed: 'boolean',
          key: 'string',
          detail: 'string',
        }[key];
        assert.equal(item.type, type, `${key} in ${value}`);
      }
      said.push(String(value));
    }
    if (res.headers['proxy-status'] !== undefined) strictList(res.headers['proxy-status']);
    return { res, value: String(value) };
  };
  assert.match((await cacheStatus('/p', { 'accept-language': 'en' })).value, /fwd=uri-miss/);
  assert.match((await cacheStatus('/p', { 'accept-language': 'en' })).value, /; hit/);
  const notModified = await cacheStatus('/p', { 'accept-language': 'en', 'if-none-match': '"v1"' });
  assert.equal(notModified.res.status, 304);
  assert.match(
    (await cacheStatus('/p', { 'accept-language': 'en', 'cache-control': 'no-cache' })).value,
    /fwd=request/,
  );
  // Stale, and the origin revalidates it with a 304.
  await new Promise((resolve) => setTimeout(resolve, 3100));
  origin.notModifiedFor = '"v1"';
  assert.match((await cacheStatus('/p', { 'accept-language': 'en' })).value, /fwd=stale; fwd-status=304/);
  // Stale, and the origin fails: the stored answer, its Cache-Status and Proxy-Status naming the failure.
  await new Promise((resolve) => setTimeout(resolve, 3100));
  origin.mood = 'reset';
  const stale = await cacheStatus('/p', { 'accept-language': 'en' });
  assert.match(stale.value, /fwd=stale; fwd-status=502/);
  const params = strictProxyStatus(stale.res.headers['proxy-status']);
  assert.equal(params.get('error')?.value, 'connection_terminated');
  origin.mood = 'ok';
  // Another variant than the one stored.
  assert.match((await cacheStatus('/p', { 'accept-language': 'fr' })).value, /fwd=vary-miss/);
  // Last: its success drops the stored answer.
  assert.match((await cacheStatus('/p', {}, 'POST')).value, /fwd=method/);
  // only-if-cached, with nothing stored: the gateway's 504, no Cache-Status.
  const only = await cacheStatus('/q', { 'cache-control': 'only-if-cached' });
  assert.equal(only.res.status, 504);
  assert.equal(only.res.headers['cache-status'], undefined);
  strictProxyStatus(only.res.headers['proxy-status']);
  assert.ok(said.length >= 7, said.join('\n'));
});

test("an IPv6 target's address as next-hop (errors.expose_upstream_address): a string a strict reader takes, the literal bracketed", async () => {
  const refused = net.createServer();
  await new Promise<void>((resolve) => refused.listen(0, '::1', resolve));
  const port = (refused.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => refused.close(() => resolve()));
  const gw = await keep(
    startTestGateway(`name: edge-1
errors: { expose_upstream_address: true }
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: "http://[::1]:${port}" }]
    retries: { attempts: 1 }
`),
  );
  const res = await request(gw.url, { path: '/a' });
  assert.equal(res.status, 502);
  const params = strictProxyStatus(res.headers['proxy-status']);
  assert.equal(params.get('error')?.value, 'connection_refused');
  // The target's origin as configured (`http://[::1]:PORT`, gateway-decisions.sockets.test.ts
  // pins the scheme), the IPv6 literal bracketed before its port.
  assert.equal(params.get('next-hop')?.type, 'string');
  assert.ok(String(params.get('next-hop')?.value).endsWith(`[::1]:${port}`));
});
