/**
 * Behind a TLS terminator in `trust_forwarded_from`, the scheme a request is routed and
 * redirected by is the one the terminator states (X-Forwarded-Proto, else Forwarded's proto=):
 * the usual `match: { scheme: http }` redirect to https takes only the terminator's plain http
 * requests, and its https ones reach the upstream, told https, instead of being sent back to
 * https forever. Anyone else's X-Forwarded-Proto changes nothing.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { ConfigProblem } from '../../../src/core/config/config-error.ts';
import { parseConfig } from '../../../src/core/config/load.ts';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const routes = (appUrl: string) => `routes:
  - name: to-https
    match: { host: www.example.com, scheme: http }
    redirect: { scheme: https }
  - name: secure
    match: { host: www.example.com, path: /secure, scheme: https }
    upstream: app
    response_headers: { set: { Strict-Transport-Security: max-age=300 } }
  - name: site
    match: { host: www.example.com }
    upstream: app
upstreams:
  app:
    targets: [{ url: ${appUrl} }]
`;

describe('the scheme a trusted TLS terminator states', () => {
  let app: Fault;
  let trusted: TestGateway;
  let untrusted: TestGateway;
  before(async () => {
    app = await startEcho();
    trusted = await startTestGateway(`trust_forwarded_from: [127.0.0.1]\n${routes(app.url)}`);
    untrusted = await startTestGateway(`trust_forwarded_from: [10.0.0.0/8]\n${routes(app.url)}`);
  });
  after(async () => {
    await trusted?.close();
    await untrusted?.close();
    await app.close();
  });

  test('its X-Forwarded-Proto: https is routed as https: forwarded, not redirected to itself, the upstream told https', async () => {
    const before = app.received.length;
    const res = await request(trusted.url, {
      path: '/a?b=1',
      headers: { host: 'www.example.com', 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.9' },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.location, undefined);
    const line = await trusted.logFor(String(res.headers['x-request-id']));
    assert.equal(line.route, 'site');
    assert.equal(app.received.length, before + 1);
    const got = app.received[app.received.length - 1];
    assert.equal(got.headers['x-forwarded-proto'], 'https');
  });

  test('its Forwarded proto=https alone does the same, and the upstream is told https in X-Forwarded-Proto and this hop’s element', async () => {
    const res = await request(trusted.url, {
      path: '/secure/x',
      headers: { host: 'www.example.com', forwarded: 'for=203.0.113.9;proto=https' },
    });
    assert.equal(res.status, 200);
    assert.equal(
      res.headers['strict-transport-security'],
      'max-age=300',
      'an https route’s HSTS, on an https request',
    );
    const line = await trusted.logFor(String(res.headers['x-request-id']));
    assert.equal(line.route, 'secure');
    const got = app.received[app.received.length - 1];
    assert.equal(got.headers['x-forwarded-proto'], 'https');
    assert.equal(
      got.headers.forwarded,
      'for=203.0.113.9;proto=https, for=127.0.0.1;host=www.example.com;proto=https',
    );
  });

  test('its stated http (or a list it appended https to last) is the scheme; what is not a scheme leaves the listener’s', async () => {
    const cases: [Record<string, string>, number][] = [
      [{ 'x-forwarded-proto': 'http' }, 308],
      [{ 'x-forwarded-proto': 'HTTPS' }, 200],
      [{ 'x-forwarded-proto': 'http, https' }, 200],
      [{ 'x-forwarded-proto': 'https, http' }, 308],
      [{ 'x-forwarded-proto': 'wss' }, 308],
      [{ forwarded: 'for=192.0.2.1;proto=https, for=198.51.100.2;proto=http' }, 308],
      // X-Forwarded-Proto first: a Forwarded passed on untouched is the client's own.
      [{ 'x-forwarded-proto': 'http', forwarded: 'proto=https' }, 308],
    ];
    for (const [fields, status] of cases) {
      const res = await request(trusted.url, { path: '/p', headers: { host: 'www.example.com', ...fields } });
      assert.equal(res.status, status, JSON.stringify(fields));
      if (status === 308) assert.equal(res.headers.location, 'https://www.example.com/p');
    }
  });

  test('the upstream is told the scheme the request was routed (and would be cached) by, whatever a client put before the terminator’s word', async () => {
    // A terminator that adds its own line (HAProxy's `http-request add-header X-Forwarded-Proto
    // https`) or appends to the list after what its client sent: the gateway reads the last
    // word; an upstream told the client's first would answer an https request as http (a
    // redirect to https, http links), and a cache would keep that answer for every https client.
    const lines = ['x-forwarded-proto: http\r\nx-forwarded-proto: https', 'x-forwarded-proto: http, https'];
    for (const proto of lines) {
      const before = app.received.length;
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = net.connect(trusted.port, '127.0.0.1');
        let text = '';
        socket.on('data', (chunk: Buffer) => {
          text += chunk.toString('latin1');
        });
        socket.on('error', reject);
        socket.on('close', () => resolve(text));
        socket.write(
          `GET /secure/y HTTP/1.1\r\nHost: www.example.com\r\n${proto}\r\nConnection: close\r\n\r\n`,
        );
      });
      assert.match(answer, /^HTTP\/1\.1 200 /, proto);
      assert.equal(app.received.length, before + 1);
      const got = app.received[app.received.length - 1];
      assert.equal(got.headers['x-forwarded-proto'], 'https', proto);
    }
  });

  test("an untrusted client's X-Forwarded-Proto or Forwarded proto=https changes nothing: redirected, never the https route", async () => {
    const before = app.received.length;
    for (const fields of [{ 'x-forwarded-proto': 'https' }, { forwarded: 'for=1.2.3.4;proto=https' }]) {
      const res = await request(untrusted.url, {
        path: '/secure/x',
        headers: { host: 'www.example.com', ...fields },
      });
      assert.equal(res.status, 308, JSON.stringify(fields));
      assert.equal(res.headers.location, 'https://www.example.com/secure/x');
      assert.equal(res.headers['strict-transport-security'], undefined);
      const line = await untrusted.logFor(String(res.headers['x-request-id']));
      assert.equal(line.route, 'to-https');
    }
    assert.equal(app.received.length, before, 'nothing was forwarded');
  });

  test('candor check takes match.scheme: https on a plain listener behind trust_forwarded_from, and still refuses it without', () => {
    const text = (trust: string) =>
      `listen:\n  - address: 127.0.0.1:8080\n${trust}${routes('http://127.0.0.1:9')}`;
    assert.doesNotThrow(() => parseConfig(text('trust_forwarded_from: [10.0.0.0/8]\n'), '<test>', {}));
    assert.throws(() => parseConfig(text(''), '<test>', {}), /serves https: the route would never be used/);
  });

  test('candor check warns of an https redirect that takes the requests a trusted terminator says are https (the loop), not of one bound to match.scheme: http', () => {
    const config = (match: string) => `listen:\n  - address: 127.0.0.1:8080
trust_forwarded_from: [10.0.0.0/8]
routes:
  - match: { host: www.example.com${match} }
    redirect: { scheme: https }
`;
    const warned = (text: string) => {
      const warnings: ConfigProblem[] = [];
      parseConfig(text, '<test>', {}, { warnings });
      return warnings.filter((w) => w.path === 'routes[0].redirect').map((w) => w.message);
    };
    const looping = warned(config(''));
    assert.equal(looping.length, 1, JSON.stringify(looping));
    assert.match(looping[0], /redirected to https again.*add match: \{ scheme: http \}/);
    assert.deepEqual(warned(config(', scheme: http')), []);
  });
});
