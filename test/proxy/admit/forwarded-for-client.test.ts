/**
 * Behind a trusted proxy that writes only `Forwarded` (RFC 7239), the client is read from its
 * elements' `for=` as from X-Forwarded-For's entries: right to left, past every trusted hop; a
 * trusted hop's obfuscated or `unknown` node leaves the client unknown, refused by the lists. Before, only X-Forwarded-For was read, so every
 * user behind such a proxy was the proxy: one allow/deny verdict, one rate-limit bucket.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

test('the IP lists judge the client a trusted proxy names in Forwarded, when it sent no X-Forwarded-For', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(`name: edge-1
trust_forwarded_from: [127.0.0.1, 192.168.0.0/16]
routes:
  - name: staff
    match: { path: /staff }
    upstream: app
    allow: [10.0.0.0/8, "2001:db8::/32"]
upstreams:
  app:
    targets:
      - url: ${echo.url}
`);
  const ask = (headers: Record<string, string>, id: string) =>
    request(gw.url, { path: '/staff', headers: { ...headers, 'x-request-id': id } });
  const fwd = (value: string, id: string) => ask({ forwarded: value }, id);
  try {
    assert.equal((await fwd('for=10.0.0.5;proto=https', 'f-v4')).status, 200);
    assert.equal((await fwd('for="10.0.0.5:4711"', 'f-v4-port')).status, 200);
    assert.equal((await fwd('For="[2001:db8::7]:4711";host="a,b;c"', 'f-v6-port')).status, 200);
    assert.equal((await fwd('proto=http;for="[::ffff:10.0.0.5]"', 'f-mapped')).status, 200);
    // Through two trusted proxies; then what a client wrote left of its proxy's element.
    assert.equal((await fwd('for=10.0.0.5, for=192.168.1.1', 'f-chain')).status, 200);
    assert.equal((await fwd('for=10.0.0.5, for=203.0.113.9', 'f-spoof')).status, 403);
    assert.equal((await gw.logFor('f-spoof')).auth, 'denied: ip not in allow (Forwarded 203.0.113.9)');
    // An obfuscated or unknown node, an element without for=, an unclosed quote: the client is unknown.
    for (const [value, id] of [
      ['for=10.0.0.5, for=_hidden', 'f-obfuscated'],
      ['for=10.0.0.5, for=unknown', 'f-unknown'],
      ['for=10.0.0.5, proto=https', 'f-no-for'],
      ['for=10.0.0.5, for="[2001:db8::7]', 'f-unclosed'],
    ]) {
      assert.equal((await fwd(value, id)).status, 403, value);
      assert.equal((await gw.logFor(id)).auth, 'denied: ip client unknown (Forwarded)', value);
    }
    // X-Forwarded-For, when sent, is the one read: nginx and HAProxy write it and pass a client's Forwarded on.
    assert.equal(
      (await ask({ 'x-forwarded-for': '203.0.113.9', forwarded: 'for=10.0.0.5' }, 'f-both')).status,
      403,
    );
    assert.equal((await gw.logFor('f-both')).auth, 'denied: ip not in allow (X-Forwarded-For 203.0.113.9)');
  } finally {
    await gw.close();
    await echo.close();
  }
});

test("a trusted proxy's own entry that names no address leaves the client unknown: refused by the lists, never judged as the proxy", async () => {
  const echo = await startEcho();
  // The proxy's network is allowed (its internal clients come through it too), and a block denied.
  const gw = await startTestGateway(`name: edge-1
trust_forwarded_from: [127.0.0.1]
routes:
  - name: inside
    match: { path: /inside }
    upstream: app
    allow: [127.0.0.0/8, 10.0.0.0/8]
  - name: open
    match: { path: /open }
    upstream: app
    deny: [203.0.113.0/24]
upstreams:
  app:
    targets:
      - url: ${echo.url}
`);
  // What the proxy (this test, at 127.0.0.1) passes on: the client's own Forwarded line, then its
  // own line for the client it saw (HAProxy's `option forwarded` adds one).
  const through = (path: string, clients: string, id: string, field = 'forwarded', own = 'for=203.0.113.9') =>
    new Promise<{ status: number }>((resolve, reject) => {
      const headers = [field, clients, field, own, 'x-request-id', id, 'host', 'gw.test'];
      const req = http.request({ host: '127.0.0.1', port: gw.port, path, headers, agent: false });
      req.on('error', reject);
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
      });
      req.end();
    });
  try {
    // The client's unclosed quote swallows the proxy's line: its entry names nobody.
    assert.equal((await through('/inside', 'for="', 'u-allow')).status, 403);
    assert.equal((await gw.logFor('u-allow')).auth, 'denied: ip client unknown (Forwarded)');
    assert.equal((await through('/open', 'for="10.0.0.5', 'u-deny')).status, 403);
    assert.equal((await gw.logFor('u-deny')).auth, 'denied: ip client unknown (Forwarded)');
    // Read whole, the same lines name the client, who is judged.
    assert.equal((await through('/inside', 'for=10.0.0.5', 'k-allow')).status, 403);
    assert.equal((await gw.logFor('k-allow')).auth, 'denied: ip not in allow (Forwarded 203.0.113.9)');
    assert.equal((await through('/open', 'for=10.0.0.5', 'k-deny')).status, 403);
    // A proxy's own X-Forwarded-For entry that is no address is no client either.
    assert.equal((await through('/inside', '10.0.0.5', 'x-allow', 'x-forwarded-for', 'unknown')).status, 403);
    assert.equal((await gw.logFor('x-allow')).auth, 'denied: ip client unknown (X-Forwarded-For)');
    assert.equal(echo.received.length, 0);
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('over HTTP/2 too: a client whose unclosed quote swallows its proxy’s Forwarded line is unknown, refused by the allow list that holds the proxy', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(
    `name: edge-1
trust_forwarded_from: [127.0.0.1]
routes:
  - name: inside
    match: { path: /inside }
    upstream: app
    allow: [127.0.0.0/8, 10.0.0.0/8]
upstreams:
  app:
    targets:
      - url: ${echo.url}
`,
    {},
    'http2: true',
  );
  const session = http2.connect(gw.url);
  session.on('error', () => {});
  const ask = (forwarded: string[], id: string) =>
    new Promise<number>((resolve, reject) => {
      // Two Forwarded fields in the stream: the client's, then its proxy's.
      const headers: Record<string, string | string[]> = {
        ':path': '/inside',
        forwarded,
        'x-request-id': id,
      };
      const stream = session.request(headers);
      stream.on('response', (head) => resolve(Number(head[':status'])));
      stream.on('error', reject);
      stream.resume();
      stream.end();
    });
  try {
    assert.equal(await ask(['for="', 'for=203.0.113.9'], 'h2-unknown'), 403);
    assert.equal((await gw.logFor('h2-unknown')).auth, 'denied: ip client unknown (Forwarded)');
    assert.equal(await ask(['for=203.0.113.9', 'for=10.0.0.5'], 'h2-inside'), 200);
    assert.equal(echo.received.length, 1);
  } finally {
    session.destroy();
    await gw.close();
    await echo.close();
  }
});

test("a trusted proxy's entry with an IPv6 zone index (`%eth0`) names no client: it was read as another address", async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(`name: edge-1
trust_forwarded_from: [127.0.0.1]
routes:
  - name: inside
    match: { path: /inside }
    upstream: app
    allow: [10.0.0.0/8, "fe80::/10"]
    request_headers:
      set: { X-Client: "{client_ip}" }
upstreams:
  app:
    targets:
      - url: ${echo.url}
`);
  const ask = (headers: Record<string, string>, id: string) =>
    request(gw.url, { path: '/inside', headers: { ...headers, 'x-request-id': id } });
  try {
    // `::ffff:10.0.0.1%eth0` was read as 10.0.0.0 (the zone made its last byte no number), let in
    // by 10.0.0.0/8 and named so to the upstream. A zone has no meaning past the host that wrote
    // it; no address list, PROXY header or Host takes one, and Forwarded's `[fe80::1%25eth0]`
    // already went on as `unknown` in X-Forwarded-For while the lists judged it an address.
    for (const [entry, id, field] of [
      ['::ffff:10.0.0.1%eth0', 'z-mapped', 'X-Forwarded-For'],
      ['fe80::1%eth0', 'z-link', 'X-Forwarded-For'],
    ] as const) {
      assert.equal((await ask({ 'x-forwarded-for': entry }, id)).status, 403, id);
      assert.equal((await gw.logFor(id)).auth, `denied: ip client unknown (${field})`, id);
    }
    assert.equal((await ask({ forwarded: 'for="[fe80::1%25eth0]"' }, 'z-fwd')).status, 403);
    assert.equal((await gw.logFor('z-fwd')).auth, 'denied: ip client unknown (Forwarded)');
    // Without its zone the same address is a client, judged and named.
    assert.equal((await ask({ 'x-forwarded-for': 'fe80::1' }, 'z-none')).status, 200);
    assert.equal(echo.received.length, 1);
    assert.equal(echo.received[0].headers['x-client'], 'fe80::1');
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('the client a trusted proxy names in another IPv6 spelling is named in its canonical text: {client_ip}, the refusal line', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(`name: edge-1
trust_forwarded_from: [127.0.0.1]
routes:
  - name: inside
    match: { path: /inside }
    upstream: app
    deny: ["2001:db8:0:1::/64"]
    request_headers:
      set: { X-Client: "{client_ip}" }
upstreams:
  app:
    targets:
      - url: ${echo.url}
`);
  const ask = (headers: Record<string, string>, id: string) =>
    request(gw.url, { path: '/inside', headers: { ...headers, 'x-request-id': id } });
  try {
    // RFC 5952, as a socket's and a PROXY header's client are written: one client, one name, for
    // the app keying by {client_ip} and for whoever searches the log by the address.
    assert.equal((await ask({ 'x-forwarded-for': '2001:DB8:0:0:0:0:0:7' }, 'c-long')).status, 200);
    assert.equal((await ask({ forwarded: 'for="[2001:0db8::0007]:4711"' }, 'c-fwd')).status, 200);
    assert.deepEqual(
      echo.received.map((r) => r.headers['x-client']),
      ['2001:db8::7', '2001:db8::7'],
    );
    assert.equal((await ask({ 'x-forwarded-for': '2001:DB8:0:1:0:0:0:9' }, 'c-denied')).status, 403);
    assert.equal(
      (await gw.logFor('c-denied')).auth,
      'denied: ip deny 2001:db8:0:1::/64 (X-Forwarded-For 2001:db8:0:1::9)',
    );
  } finally {
    await gw.close();
    await echo.close();
  }
});
