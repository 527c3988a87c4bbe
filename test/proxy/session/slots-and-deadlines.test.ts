/**
 * Regressions found on review of the request session: every slot an attempt holds comes back
 * whatever ends it, the total deadline is the upstream's (not the client's upload), a retry
 * that cannot start before the deadline is not made, and an upgrade pipelined behind another
 * request waits for it instead of taking its socket.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { rawUntil, request } from '../../helpers/http-client.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';

test('a half-open probe abandoned by its client gives its slot back: the circuit closes on the next request', async () => {
  let connections = 0;
  const target = await startRawFault(async (c) => {
    const n = ++connections;
    await c.nextRequest();
    if (n === 1) return c.reset(); // opens the circuit
    if (n === 2) return; // the half-open probe: never answered, its client gives up
    for (;;) {
      await c.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      await c.nextRequest();
    }
  });
  const gw = await startTestGateway(
    singleUpstream(target.url, {
      upstream:
        '    outlier_detection: { consecutive_failures: 0 }\n    circuit_breaker: { consecutive_failures: 1, open_time: 200ms, half_open_requests: 1 }\n    retries: { attempts: 1 }\n',
    }),
  );
  try {
    assert.equal((await request(gw.url)).status, 502);
    await new Promise((resolve) => setTimeout(resolve, 250));
    await new Promise<void>((resolve) => {
      const req = http.get(`${gw.url}/probe`, { agent: false });
      req.on('error', () => {});
      target.waitForRequest(2).then(() => {
        req.destroy();
        resolve();
      });
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const next = await request(gw.url);
    assert.equal(
      next.status,
      200,
      'the probe slot came back: the next request probed and closed the circuit',
    );
    assert.equal((await request(gw.url)).status, 200);
  } finally {
    await gw.close();
    await target.close();
  }
});

test('a slow upload of a small body is not the upstream timing out: the total deadline starts with the first attempt', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(
    singleUpstream(echo.url, {
      upstream: '    timeouts: { response: 200ms, total: 300ms }\n    retries: { attempts: 2 }\n',
    }),
  );
  try {
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${gw.url}/`, {
        method: 'POST',
        agent: false,
        headers: { 'content-length': '6' },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      let sent = 0;
      const drip = setInterval(() => {
        req.write('x');
        if (++sent === 6) {
          clearInterval(drip);
          req.end();
        }
      }, 100);
    });
    assert.equal(status, 200);
    assert.equal((await echo.waitForRequest(1, { body: true })).body.toString(), 'xxxxxx');
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('a retry whose backoff ends past the deadline is not made: the client gets the failure that happened', async () => {
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:1
      - url: http://127.0.0.1:2
    outlier_detection: { consecutive_failures: 0 }
    timeouts: { response: 200ms, total: 200ms }
    retries: { attempts: 3, backoff: { base: 60s, max: 60s } }
`);
  try {
    // Full jitter: a backoff may still be short by chance; over a few requests one is long. Drawn
    // from a minute, one rarely ends just short of the deadline (RETRY_FLOOR_MS's case, its own
    // test in test/proxy/decide/retry-time-floor.test.ts).
    let skipped = 0;
    for (let i = 0; i < 6; i++) {
      const res = await request(gw.url, { headers: { 'x-request-id': `late-${i}` } });
      assert.equal(
        res.status,
        502,
        'the refused connection, never a 504 for a deadline that a retry would hit',
      );
      assert.match(String(res.headers['proxy-status']), /error=connection_refused/);
      const line = await gw.logFor(`late-${i}`);
      if (line.retry_skipped === 'deadline') skipped++;
    }
    assert.ok(skipped > 0, 'at least one retry was skipped for the deadline');
  } finally {
    await gw.close();
  }
});

test('an upgrade pipelined behind a request waits for its answer; the process survives', async () => {
  const upstream = await startRawFault(async (c) => {
    for (;;) {
      const req = await c.nextRequest();
      if (req.path === '/ws') {
        await c.write(
          'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
        );
        c.socket.on('end', () => c.socket.end());
        return;
      }
      await c.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nfirst');
    }
  });
  const gw = await startTestGateway(singleUpstream(upstream.url));
  try {
    const raw = await rawUntil(
      gw.port,
      'GET /a HTTP/1.1\r\nHost: a\r\n\r\n' +
        'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
      (t) => t.includes('101 Switching'),
    );
    assert.match(raw, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nfirstHTTP\/1\.1 101 Switching Protocols\r\n/);
    assert.equal((await request(gw.url, { path: '/after' })).status, 200, 'the gateway is still up');
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test("every request's places in its upstream's in-flight count and its target's active count come back, however it ended", async () => {
  // The first connection is reset at its first request (the one target was tried: no retry,
  // the request's 502); every other answers whole, with a body.
  let connections = 0;
  const target = await startRawFault(async (c) => {
    const n = ++connections;
    await c.nextRequest();
    if (n === 1) return c.reset();
    for (;;) {
      await c.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      await c.nextRequest();
    }
  });
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: /gone }
    upstream: gone
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${target.url}
    outlier_detection: { consecutive_failures: 0 }
  gone:
    targets:
      - url: http://127.0.0.1:1
    outlier_detection: { consecutive_failures: 0 }
`);
  try {
    const statuses = [
      (await request(gw.url, { path: '/first' })).status, // reset after it was sent
      (await request(gw.url, { path: '/a' })).status,
      (await request(gw.url, { path: '/b', method: 'POST', body: 'hello' })).status,
      (await request(gw.url, { path: '/c', method: 'HEAD' })).status,
      (await request(gw.url, { path: '/gone' })).status, // refused: the request's 502
    ];
    assert.deepEqual(statuses, [502, 200, 200, 200, 502]);
    const { upstreams } = gw.gateway.runtime();
    for (const name of ['app', 'gone']) {
      const upstream = upstreams.get(name);
      assert.equal(upstream?.inFlight.count, 0, `${name}'s in-flight count`);
      assert.equal(upstream?.targets[0].active.count, 0, `${name}'s target's active count`);
    }
  } finally {
    await gw.close();
    await target.close();
  }
});
