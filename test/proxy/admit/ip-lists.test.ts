/** IP lists: `allow` and `deny` on a route, decided on the client's address, refused with 403 http_request_denied. */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { createLoggerOn } from '../../../src/observe/log/logger.ts';
import { startGateway } from '../../../src/server/gateway/gateway.ts';
import { rawRequest, request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

function config(url: string): string {
  return `name: edge-1
routes:
  - name: denied
    match: { path: /denied }
    upstream: app
    deny: [10.0.0.0/8, 127.0.0.0/8]
  - name: outside
    match: { path: /outside }
    upstream: app
    allow: [10.0.0.0/8, "2001:db8::/32"]
  - name: inside
    match: { path: /inside }
    upstream: app
    allow: ["::ffff:127.0.0.0/104"]
    deny: [127.0.0.2]
  - name: open
    match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${url}
`;
}

test('a deny list refuses the client with 403 http_request_denied, names the rule in the log only, and forwards nothing', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(config(echo.url));
  try {
    const res = await request(gw.url, {
      path: '/denied/x',
      headers: { accept: 'application/json', 'x-request-id': 'ip-deny' },
    });
    assert.equal(res.status, 403);
    assert.equal(
      res.headers['proxy-status'],
      `edge-1; error=http_request_denied; details="the client's address may not use this route"`,
    );
    assert.equal(res.headers['retry-after'], undefined, 'a refusal by address is not a wait');
    assert.equal(res.headers['cache-control'], 'no-store');
    const problem = JSON.parse(res.text);
    assert.equal(problem.status, 403);
    assert.equal(problem.retryable, false);
    assert.ok(!res.text.includes('127.0.0.0/8'), 'the rule is not shown to the client');
    const line = await gw.logFor('ip-deny');
    assert.equal(line.status, 403);
    assert.equal(line.error, 'http_request_denied');
    assert.equal(line.auth, 'denied: ip deny 127.0.0.0/8');
    assert.equal(echo.received.length, 0, 'nothing reached the upstream');
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('an allow list refuses an address outside it, whatever X-Forwarded-For an untrusted client claims', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(config(echo.url));
  try {
    const res = await request(gw.url, {
      path: '/outside',
      headers: { 'x-forwarded-for': '10.1.2.3', 'x-request-id': 'ip-allow' },
    });
    assert.equal(res.status, 403);
    assert.match(String(res.headers['proxy-status']), /; error=http_request_denied; /);
    const line = await gw.logFor('ip-allow');
    assert.equal(line.auth, 'denied: ip not in allow');
    assert.equal(echo.received.length, 0);
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('behind trusted proxies (trust_forwarded_from) the lists judge the client they vouch for in X-Forwarded-For, read from its right end', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(`name: edge-1
trust_forwarded_from: [127.0.0.1, 192.168.0.0/16]
routes:
  - name: staff
    match: { path: /staff }
    upstream: app
    allow: [10.0.0.0/8]
  - name: public
    match: { path: /public }
    upstream: app
    deny: [203.0.113.0/24]
upstreams:
  app:
    targets:
      - url: ${echo.url}
`);
  const ask = (path: string, forwardedFor: string, id: string) =>
    request(gw.url, { path, headers: { 'x-forwarded-for': forwardedFor, 'x-request-id': id } });
  try {
    // The proxy's word: its client is denied on /public, allowed on /staff.
    assert.equal((await ask('/public', '203.0.113.9', 'xff-deny')).status, 403);
    assert.equal(
      (await gw.logFor('xff-deny')).auth,
      'denied: ip deny 203.0.113.0/24 (X-Forwarded-For 203.0.113.9)',
    );
    assert.equal((await ask('/public', '::ffff:203.0.113.9', 'xff-mapped')).status, 403);
    assert.equal((await ask('/public', '203.0.113.9:4711', 'xff-port')).status, 403);
    assert.equal((await ask('/staff', '[::ffff:10.0.0.5]:4711', 'xff-v6-port')).status, 200);
    assert.equal((await ask('/staff', '10.0.0.5', 'xff-allow')).status, 200);
    assert.equal((await gw.logFor('xff-allow')).auth, 'allowed');
    // Through two trusted proxies (192.168.1.1 appended by the nearer one).
    assert.equal((await ask('/staff', '10.0.0.5, 192.168.1.1', 'xff-chain')).status, 200);
    assert.equal(echo.received.length, 3);
    // What a client wrote left of its proxy's entry is not read: the proxy saw 203.0.113.9.
    assert.equal((await ask('/staff', '10.0.0.5, 203.0.113.9', 'xff-spoof')).status, 403);
    assert.equal(
      (await gw.logFor('xff-spoof')).auth,
      'denied: ip not in allow (X-Forwarded-For 203.0.113.9)',
    );
    // A trusted proxy's entry that is no address leaves the client unknown, refused (never judged as that proxy).
    assert.equal((await ask('/staff', '10.0.0.5, junk', 'xff-junk')).status, 403);
    assert.equal((await gw.logFor('xff-junk')).auth, 'denied: ip client unknown (X-Forwarded-For)');
    assert.equal(echo.received.length, 3, 'no refused request reached the upstream');
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('an address in the allow list (written IPv4-mapped) and not denied passes, logged auth=allowed; a route without lists logs no auth', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(config(echo.url));
  try {
    const inside = await request(gw.url, { path: '/inside/a', headers: { 'x-request-id': 'ip-in' } });
    assert.equal(inside.status, 200);
    assert.equal(echo.received.length, 1);
    assert.equal(echo.received[0].path, '/inside/a');
    assert.equal((await gw.logFor('ip-in')).auth, 'allowed');

    const open = await request(gw.url, { path: '/other', headers: { 'x-request-id': 'ip-open' } });
    assert.equal(open.status, 200);
    assert.equal('auth' in (await gw.logFor('ip-open')), false);

    await request(gw.url, { path: '/denied' });
    const metrics = (await gw.gateway.metrics.exposition()).text;
    assert.match(metrics, /candor_access_decisions_total\{route="inside",outcome="allowed"\} 1\n/);
    assert.match(metrics, /candor_access_decisions_total\{route="denied",outcome="denied"\} 1\n/);
    assert.doesNotMatch(metrics, /candor_access_decisions_total\{route="open"/);
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('the IP list runs on the normalised path: a dot-segment cannot walk around a denied route', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(config(echo.url));
  try {
    const res = await request(gw.url, { path: '/open/../denied/secret' });
    assert.equal(res.status, 403);
    assert.equal(echo.received.length, 0);
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('on a dual-stack listener, an IPv4 client (::ffff:127.0.0.1 on the socket) meets the IPv4 rules and ::1 the IPv6 ones', async () => {
  const echo = await startEcho();
  const config = parseConfig(
    `name: edge-1
listen:
  - address: "[::]:0"
routes:
  - name: v4-only
    match: { path: /v4 }
    upstream: app
    allow: [127.0.0.0/8]
  - name: no-v6-loopback
    match: { path: /v6 }
    upstream: app
    deny: ["::1"]
upstreams:
  app:
    targets:
      - url: ${echo.url}
`,
    '<test>',
    {},
  );
  const logs: string[] = [];
  const gateway = await startGateway(config, {
    logger: createLoggerOn(
      new Writable({
        write(chunk, _encoding, callback) {
          logs.push(String(chunk));
          callback();
        },
      }),
      'info',
      'edge-1',
    ),
  });
  const port = gateway.listeners[0].port();
  try {
    assert.equal((await request(`http://127.0.0.1:${port}`, { path: '/v4' })).status, 200);
    assert.equal((await request(`http://[::1]:${port}`, { path: '/v4' })).status, 403);
    assert.equal((await request(`http://127.0.0.1:${port}`, { path: '/v6' })).status, 200);
    assert.equal((await request(`http://[::1]:${port}`, { path: '/v6' })).status, 403);
    assert.ok(
      logs.some((line) => line.includes('"auth":"denied: ip deny ::1"')),
      logs.join(''),
    );
    assert.ok(
      logs.some((line) => line.includes('"client":"127.0.0.1"')),
      'the log shows the IPv4 form',
    );
  } finally {
    await gateway.close();
    await echo.close();
  }
});

test('behind a TCP load balancer, the lists judge the client its PROXY header names, never the X-Forwarded-For the client wrote', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(
    `name: edge-1
routes:
  - name: staff
    match: { path: /staff }
    upstream: app
    allow: [198.51.100.0/24]
    deny: [198.51.100.66]
upstreams:
  app:
    targets: [{ url: ${echo.url} }]
`,
    {},
    'proxy_protocol: { from: [127.0.0.1] }',
  );
  const ask = async (client: string, id: string) => {
    const { raw } = await rawRequest(
      gw.port,
      `PROXY TCP4 ${client} 127.0.0.1 40000 80\r\nGET /staff HTTP/1.1\r\nHost: gw.test\r\nX-Forwarded-For: 198.51.100.7\r\nX-Request-Id: ${id}\r\nConnection: close\r\n\r\n`,
    );
    return Number(raw.split(' ')[1]);
  };
  try {
    assert.equal(await ask('198.51.100.7', 'pp-in'), 200);
    assert.equal(await ask('198.51.100.66', 'pp-denied'), 403);
    assert.equal((await gw.logFor('pp-denied')).auth, 'denied: ip deny 198.51.100.66');
    assert.equal(await ask('203.0.113.9', 'pp-out'), 403);
    assert.equal((await gw.logFor('pp-out')).auth, 'denied: ip not in allow');
    assert.equal(echo.received.length, 1);
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('a NAT64 client (64:ff9b::/96) of a global IPv4 is judged as the IPv4 host it stands for too, as rate limits key it: a deny of its IPv4 block refuses it, an allow lets it in', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(
    `name: edge-1
routes:
  - name: blocked
    match: { path: /blocked }
    upstream: app
    deny: [9.9.9.0/24]
  - name: staff
    match: { path: /staff }
    upstream: app
    allow: [1.1.1.0/24]
upstreams:
  app:
    targets: [{ url: ${echo.url} }]
`,
    {},
    'proxy_protocol: { from: [127.0.0.1] }',
  );
  const ask = async (client: string, path: string, id: string) => {
    const { raw } = await rawRequest(
      gw.port,
      `PROXY TCP6 ${client} ::1 40000 80\r\nGET ${path} HTTP/1.1\r\nHost: gw.test\r\nX-Request-Id: ${id}\r\nConnection: close\r\n\r\n`,
    );
    return Number(raw.split(' ')[1]);
  };
  try {
    assert.equal(await ask('64:ff9b::909:901', '/blocked', 'nat64-denied'), 403);
    assert.equal((await gw.logFor('nat64-denied')).auth, 'denied: ip deny 9.9.9.0/24');
    assert.equal(await ask('64:ff9b::1.1.1.7', '/staff', 'nat64-in'), 200);
    assert.equal(await ask('64:ff9b::909:909', '/staff', 'nat64-out'), 403);
    assert.equal((await gw.logFor('nat64-out')).auth, 'denied: ip not in allow');
    // Outside the well-known /96 (a network-specific prefix would be the operator's to write).
    assert.equal(await ask('64:ff9b:1::909:901', '/blocked', 'not-nat64'), 200);
    assert.equal(echo.received.length, 2);
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('a NAT64 address of a non-global IPv4 (64:ff9b::a00:1, RFC 6052 §3.1: the prefix never stands for one) is judged as the IPv6 address it is: no allow of that IPv4 lets it in, a deny of it still refuses it', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(
    `name: edge-1
routes:
  - name: internal
    match: { path: /internal }
    upstream: app
    allow: [10.0.0.0/8, 127.0.0.0/8, 192.168.0.0/16]
  - name: blocked
    match: { path: /blocked }
    upstream: app
    deny: [10.0.0.0/8]
  - name: translated
    match: { path: /translated }
    upstream: app
    allow: ["64:ff9b::/96"]
upstreams:
  app:
    targets: [{ url: ${echo.url} }]
`,
    {},
    'proxy_protocol: { from: [127.0.0.1] }',
  );
  const ask = async (client: string, path: string, id: string) => {
    const { raw } = await rawRequest(
      gw.port,
      `PROXY TCP6 ${client} ::1 40000 80\r\nGET ${path} HTTP/1.1\r\nHost: gw.test\r\nX-Request-Id: ${id}\r\nConnection: close\r\n\r\n`,
    );
    return Number(raw.split(' ')[1]);
  };
  try {
    for (const [client, id] of [
      ['64:ff9b::a00:1', 'ten'],
      ['64:ff9b::7f00:1', 'loopback'],
      ['64:ff9b::192.168.1.1', 'home'],
    ]) {
      assert.equal(await ask(client, '/internal', id), 403, client);
      assert.equal((await gw.logFor(id)).auth, 'denied: ip not in allow', client);
    }
    // Refusing is the safe side: a deny of the IPv4 block is not dodged through the prefix.
    assert.equal(await ask('64:ff9b::a00:1', '/blocked', 'blocked'), 403);
    assert.equal((await gw.logFor('blocked')).auth, 'denied: ip deny 10.0.0.0/8');
    // As the IPv6 address it is, an IPv6 rule holding it matches it.
    assert.equal(await ask('64:ff9b::a00:1', '/translated', 'translated'), 200);
    assert.equal(echo.received.length, 1);
  } finally {
    await gw.close();
    await echo.close();
  }
});
