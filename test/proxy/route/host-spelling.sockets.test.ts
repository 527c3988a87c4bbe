/**
 * A host is routed as what it names, however it is spelled: a fully qualified name's trailing
 * dot (`admin.example.`, which nginx and most servers read as `admin.example`) and upper case
 * meet the host's route and its policy, never the catch-all, over HTTP/1.1 and HTTP/2; and a
 * spelling that another parser reads as another host (a comma's list, a `%` escape) is refused.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, describe, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { rawRequest, request } from '../../helpers/http-client.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

function h2Get(url: string, authority: string): Promise<{ status: number; proxyStatus: string }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url);
    session.on('error', reject);
    const stream = session.request({ ':path': '/panel', ':authority': authority });
    stream.on('response', (head) => {
      stream.resume();
      stream.on('end', () => {
        session.close();
        resolve({ status: Number(head[':status']), proxyStatus: String(head['proxy-status']) });
      });
    });
    stream.on('error', reject);
  });
}

describe('a host route meets its host however it is spelled', () => {
  let app: Fault;
  let gw: TestGateway;
  before(async () => {
    app = await startEcho();
    gw = await startTestGateway(
      `name: edge-1
routes:
  - name: admin
    match: { host: admin.example }
    upstream: app
    maintenance: { retry_after: 90s, message: Closed. }
  - name: fqdn
    match: { host: "*.Shop.Example." }
    upstream: app
    maintenance: { retry_after: 90s, message: Shop closed. }
  - name: loopback-v6
    match: { host: "[0:0::1]" }
    upstream: app
    maintenance: { retry_after: 90s, message: Address closed. }
  - name: private-v4
    match: { host: "10.0.5" }
    upstream: app
    maintenance: { retry_after: 90s, message: Ten closed. }
  - name: catch-all
    upstream: app
upstreams:
  app:
    targets: [{ url: ${app.url} }]
`,
      {},
      'http2: true',
    );
  });
  after(async () => {
    await gw.close();
    await app.close();
  });

  const MAINTENANCE = /^edge-1; error=proxy_internal_response; details="Closed\."/;

  test('HTTP/1.1: a trailing dot and upper case are the same host', async () => {
    for (const host of ['admin.example.', 'ADMIN.Example.', `admin.example.:${gw.port}`]) {
      const res = await request(gw.url, { path: '/panel', headers: { host } });
      assert.equal(res.status, 503, host);
      assert.match(String(res.headers['proxy-status']), MAINTENANCE, host);
    }
    assert.equal(app.received.length, 0, 'nothing reached the upstream');
  });

  test('HTTP/2: the same for :authority', async () => {
    const answer = await h2Get(gw.url, 'admin.example.');
    assert.equal(answer.status, 503);
    assert.match(answer.proxyStatus, MAINTENANCE);
    assert.equal(app.received.length, 0, 'nothing reached the upstream');
  });

  test('an IPv4 address meets its route however it is spelled, over HTTP/1.1, HTTP/2 and the absolute form', async () => {
    // A WHATWG URL parser reads each of these as 10.0.0.5 (012 is octal); compared as written,
    // all but the route's own spelling (10.0.5, as the route above writes it) went to the catch-all.
    await answeredEverywhere(
      ['10.0.0.5', '10.0.5', '167772165', '0xa.0.0.5', '10.0.0.05', '012.0.0.5', `10.0.0.5.:${gw.port}`],
      503,
      /details="Ten closed\."/,
    );
  });

  test('a host with an empty label names no host: 400, nothing forwarded', async () => {
    for (const host of ['admin.example..', '.admin.example', 'admin..example']) {
      const res = await request(gw.url, { path: '/panel', headers: { host } });
      assert.equal(res.status, 400, host);
      assert.match(
        String(res.headers['proxy-status']),
        /error=http_request_error; details="[^"]*an empty label in the host/,
        host,
      );
    }
    assert.equal(app.received.length, 0, 'nothing reached the upstream');
  });

  /** Each host answered `status` with `details` as Host, as `:authority` and as an absolute-form target's authority. */
  async function answeredEverywhere(
    hosts: readonly string[],
    status: number,
    details: RegExp,
  ): Promise<void> {
    for (const host of hosts) {
      const res = await request(gw.url, { path: '/panel', headers: { host } });
      assert.equal(res.status, status, host);
      assert.match(String(res.headers['proxy-status']), details, host);
      const h2 = await h2Get(gw.url, host);
      assert.equal(h2.status, status, host);
      assert.match(h2.proxyStatus, details, host);
      const { raw } = await rawRequest(
        gw.port,
        `GET http://${host}/panel HTTP/1.1\r\nHost: www.example\r\nConnection: close\r\n\r\n`,
      );
      assert.match(raw, new RegExp(`^HTTP/1\\.1 ${status} `), host);
      assert.match(raw, details, host);
    }
    assert.equal(app.received.length, 0, 'nothing reached the upstream');
  }

  const refusedEverywhere = (hosts: readonly string[], details: RegExp) =>
    answeredEverywhere(hosts, 400, details);

  test('an IPv6 literal meets its route however it is spelled, over HTTP/1.1, HTTP/2 and the absolute form', async () => {
    // Compared as written, [0::1] went past the route for [::1] to the catch-all, while a WHATWG
    // URL parser (Node's, a browser's) reads every one of these as [::1]; the route's own
    // spelling ([0:0::1]) was kept too, so it met none but that one.
    await answeredEverywhere(
      ['[::1]', '[0::1]', '[0:0:0:0:0:0:0:1]', `[::0:1]:${gw.port}`, '[0:0::1]'],
      503,
      /details="Address closed\."/,
    );
  });

  test('a host with a comma is a list of hosts, not one: 400 over HTTP/1.1 and HTTP/2, nothing forwarded', async () => {
    // It went to the catch-all, and on as X-Forwarded-Host, which Express (trusting the
    // gateway) reads as its first host, Rails as its last: admin.example, past its route.
    await refusedEverywhere(
      ['admin.example,www.example', 'www.example,admin.example'],
      /error=http_request_error; details="[^"]*a comma in the host/,
    );
  });

  test('a percent-encoded host is refused: 400 over HTTP/1.1 and HTTP/2, nothing forwarded', async () => {
    // It went to the catch-all, while a WHATWG URL parser (Node's, a browser's) and Go's net/url
    // decode the escapes in a host: new URL(req.url, `http://${host}`) named admin.example.
    await refusedEverywhere(
      ['%61dmin.example', 'admin%2Eexample', 'admin.example%2e'],
      /error=http_request_error; details="[^"]*a percent-encoded host/,
    );
  });

  test('brackets that hold no IPv6 address name no host: 400 over HTTP/1.1 and HTTP/2, nothing forwarded', async () => {
    // Each went to the catch-all and on as Host and X-Forwarded-Host, where a WHATWG URL parser throws.
    await refusedEverywhere(
      ['[1.2.3.4]', '[:]', '[.]', '[::::]', '[1:2:3:4:5:6:7:8:9]:8080'],
      /error=http_request_error; details="[^"]*an IP literal that is no IPv6 address/,
    );
  });

  test('a host longer than 255 characters names no host: 400 over HTTP/1.1 and HTTP/2, nothing forwarded, the log line keeps its start', async () => {
    // 256 characters ending in .shop.example: the wildcard route took it, and it went on
    // whole (Host, X-Forwarded-Host) and into the log, up to the head limit.
    const long = `${`${'a'.repeat(49)}.`.repeat(4)}${'b'.repeat(43)}.shop.example`;
    assert.equal(long.length, 256);
    await refusedEverywhere(
      [long, `${long}:8080`],
      /error=http_request_error; details="[^"]*a host of 256 characters \(no name is longer than 255\)/,
    );
    const huge = `${'a'.repeat(60)}.`.repeat(100);
    const res = await request(gw.url, {
      path: '/panel',
      headers: { host: huge, 'x-request-id': 'huge-host' },
    });
    assert.equal(res.status, 400);
    assert.equal((await gw.logFor('huge-host')).host, huge.slice(0, 261));
    assert.equal(app.received.length, 0, 'nothing reached the upstream');
  });

  test('a route whose host is written with the trailing dot or upper case meets its host too', async () => {
    // It was kept as "*.shop.example.", which no request's host (its dot dropped) ever ends with.
    for (const host of ['www.shop.example', 'WWW.shop.example.']) {
      const res = await request(gw.url, { path: '/panel', headers: { host } });
      assert.equal(res.status, 503, host);
      assert.match(String(res.headers['proxy-status']), /details="Shop closed\."/, host);
    }
    assert.equal(app.received.length, 0, 'nothing reached the upstream');
  });

  test('another host still goes to the catch-all', async () => {
    assert.equal((await request(gw.url, { path: '/panel', headers: { host: 'www.example.' } })).status, 200);
    assert.equal(app.received.length, 1);
  });

  test('a host of 255 characters, with a port, is a host: routed and forwarded whole', async () => {
    const longest = `${`${'a'.repeat(49)}.`.repeat(4)}${'b'.repeat(42)}.shop.example`;
    assert.equal(longest.length, 255);
    const res = await request(gw.url, {
      path: '/panel',
      headers: { host: `${longest}:65535`, 'x-request-id': 'longest-host' },
    });
    assert.equal(res.status, 503, 'the wildcard route took it');
    assert.match(String(res.headers['proxy-status']), /details="Shop closed\."/);
    assert.equal((await gw.logFor('longest-host')).host, `${longest}:65535`);
    const other = `${`${'a'.repeat(49)}.`.repeat(4)}${'b'.repeat(47)}.example`;
    assert.equal(other.length, 255);
    const before = app.received.length;
    assert.equal((await request(gw.url, { path: '/panel', headers: { host: other } })).status, 200);
    assert.equal(app.received.length, before + 1);
    assert.equal(app.received[before].headers['x-forwarded-host'], other);
  });
});
