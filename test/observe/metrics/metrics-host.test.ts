/**
 * The metrics listener has no token, so a Host check is what keeps a web page from reading it:
 * a page on evil.example whose name its attacker made resolve to 127.0.0.1 (DNS rebinding)
 * reaches the listener and sends `Host: evil.example`, and the scrape (route names, target
 * addresses, failure counts) was its to read. The admin listener refuses such a Host with 421
 * (host-check.ts); the metrics listener now does too, and takes `metrics.allowed_hosts` for a
 * name Prometheus scrapes it by.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { rawRequest } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

let gw: TestGateway;
let port: number;

before(async () => {
  gw = await startTestGateway(`
metrics: { listen: 127.0.0.1:0, allowed_hosts: [prom-target.internal] }
routes:
  - name: secret-route
    upstream: app
upstreams:
  app:
    targets: [{ url: http://127.0.0.1:9 }]
`);
  port = gw.gateway.metricsPort() as number;
});

after(() => closeAll(gw));

const scrapeAs = async (host: string) => {
  const { raw } = await rawRequest(
    port,
    `GET /metrics HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
  );
  return { status: Number(raw.split(' ')[1]), raw };
};

test('a scrape whose Host is a name the listener does not answer for is a 421, with nothing of the metrics', async () => {
  for (const host of ['evil.example', 'evil.example:9464', '127.0.0.1.evil.example']) {
    const { status, raw } = await scrapeAs(host);
    assert.equal(status, 421, raw);
    assert.ok(!raw.includes('candor_'), raw);
    assert.match(raw, /add it to metrics\.allowed_hosts/);
    // It quotes the Host it was sent: read as text only.
    assert.match(raw, /\r\nx-content-type-options: nosniff\r\n/i);
  }
});

test('its own addresses, localhost and the names metrics.allowed_hosts lists are scraped', async () => {
  for (const host of ['127.0.0.1', `127.0.0.1:${port}`, `localhost:${port}`, 'prom-target.internal:9464']) {
    const { status, raw } = await scrapeAs(host);
    assert.equal(status, 200, `${host}: ${raw.slice(0, 200)}`);
    assert.match(raw, /candor_config_info\{/);
  }
});

// An absolute-form target names the authority (RFC 9112 §3.2.2: the Host beside it is ignored),
// as the admin listener reads it: a target naming another host was a 404, one naming the
// listener's own address a 404 too, where a server must take the absolute form (RFC 9112 §3.2.2).
test('an absolute-form target is judged by its own authority: another name is a 421, the listener’s own is scraped', async () => {
  const request = (target: string, host: string) =>
    rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  const foreign = await request('http://evil.example/metrics', `127.0.0.1:${port}`);
  assert.match(foreign.raw, /^HTTP\/1\.1 421 /, foreign.raw);
  assert.ok(!foreign.raw.includes('candor_'), foreign.raw);
  assert.match(foreign.raw, /not for Host "evil\.example"/);
  const own = await request(`http://127.0.0.1:${port}/metrics`, 'evil.example');
  assert.match(own.raw, /^HTTP\/1\.1 200 /, own.raw.slice(0, 300));
  assert.match(own.raw, /candor_config_info\{/);
  const elsewhere = await request(`http://127.0.0.1:${port}/other`, `127.0.0.1:${port}`);
  assert.match(elsewhere.raw, /^HTTP\/1\.1 404 /, elsewhere.raw);
});

// node:http gives a CONNECT to a 'connect' listener and, with none, closed its connection with no
// status at all: the admin listener got one of its own, the metrics listener had none.
test('a CONNECT is answered, not reset: the 405 of every method but GET and HEAD, or the 421 of a name not its own', async () => {
  for (const target of [`127.0.0.1:${port}`, `localhost:${port}`, '/metrics']) {
    const { raw, status, closed } = await rawRequest(
      port,
      `CONNECT ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`,
    );
    assert.equal(status, 405, `${target}: ${raw.slice(0, 300)}`);
    assert.match(raw, /\r\nallow: GET, HEAD\r\n/i, target);
    assert.ok(!raw.includes('candor_'), raw);
    assert.ok(closed, `${target}: the connection ends with the answer`);
  }
  const foreign = await rawRequest(
    port,
    'CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n',
  );
  assert.equal(foreign.status, 421, foreign.raw.slice(0, 300));
  assert.match(foreign.raw, /not for Host "evil\.example:443"/);
});
