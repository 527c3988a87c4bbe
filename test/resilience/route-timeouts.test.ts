/**
 * A route's own timeouts (`routes[].timeouts`, `route_defaults.timeouts`) on real sockets: two
 * routes to one slow upstream each wait as long as their own timeouts say, on the upstream's one
 * pool; a pooled connection carries each request's own clocks, whichever route used it before.
 */
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { startUnaccepting } from '../../src/kits/fault-kit/unreachable-faults.ts';
import { startAuthService, startAuthStage } from '../helpers/auth-service.ts';
import { request } from '../helpers/http-client.ts';
import { type LoopbackServer, listenOnLoopback } from '../helpers/loopback-server.ts';
import { startTestGateway } from '../helpers/test-gateway.ts';

/**
 * How long the slow upstreams hold back: twice the longest route timeout cut against it (500 ms).
 * The upstream runs in the gateway's process, and its timer starts after the gateway's (which
 * starts when the request goes upstream) and ends later: the gateway's fires first however
 * loaded the machine is. Longer only made every test wait.
 */
const SLOW_MS = 1000;

/**
 * An upstream whose `/slow` answers its head after SLOW_MS, whose `/stall` sends its head and a
 * first piece, then nothing for SLOW_MS; anything else at once. Every request's path is kept.
 */
async function slowUpstream(): Promise<LoopbackServer & { paths: string[] }> {
  const paths: string[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const later = (res: ServerResponse, done: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!res.destroyed) done();
    }, SLOW_MS);
    timers.add(timer);
  };
  const server = await listenOnLoopback((req, res) => {
    paths.push(String(req.url));
    if (req.url?.endsWith('/slow')) return later(res, () => res.end('slow but whole'));
    if (req.url?.endsWith('/stall')) {
      res.writeHead(200, { 'content-length': '10' });
      res.write('12345');
      return later(res, () => res.end('67890'));
    }
    res.end('quick');
  });
  return {
    ...server,
    paths,
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      await server.close();
    },
  };
}

const TIMED_OUT =
  /^edge-1; error=http_response_timeout; details="no response head \(response timeout of 500 ms\) after \d+ ms"; next-hop="app"$/;

const twoRoutes = (url: string, fast: string, extra = '') => `name: edge-1
${extra}routes:
  - name: fast
    match: { path: /fast }
    upstream: app
${fast}  - name: plain
    match: { path: /plain }
    upstream: app
upstreams:
  app:
    retries: { attempts: 1 }
    targets: [{ url: ${url} }]
`;

/** Both routes' slow requests at once: the fast route's the 504 of its own response timeout, the plain route's the upstream's 200. */
async function fastTimesOutPlainWaits(url: string): Promise<void> {
  const [fast, plain] = await Promise.all([
    request(url, { path: '/fast/slow', headers: { 'x-request-id': 'fast' } }),
    request(url, { path: '/plain/slow', headers: { 'x-request-id': 'plain' } }),
  ]);
  assert.equal(fast.status, 504);
  assert.match(String(fast.headers['proxy-status']), TIMED_OUT);
  assert.equal(plain.status, 200);
  assert.equal(plain.text, 'slow but whole');
}

test("two routes on one slow upstream: the one with timeouts.response 500ms answers 504, the other waits for the upstream's 200", {
  timeout: 30_000,
}, async () => {
  const upstream = await slowUpstream();
  const gw = await startTestGateway(twoRoutes(upstream.url, '    timeouts: { response: 500ms }\n'));
  try {
    await fastTimesOutPlainWaits(gw.url);
    assert.equal((await gw.logFor('fast')).error, 'http_response_timeout');
    // Both reached the upstream, through its one pool.
    assert.deepEqual(upstream.paths.sort(), ['/fast/slow', '/plain/slow']);
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test("a pooled connection carries each request's own clocks, whichever route's request it carried before", {
  timeout: 30_000,
}, async () => {
  const upstream = await slowUpstream();
  const gw = await startTestGateway(twoRoutes(upstream.url, '    timeouts: { response: 500ms }\n'));
  try {
    // The fast route's quick answer leaves its connection idle in the pool...
    assert.equal((await request(gw.url, { path: '/fast/quick' })).status, 200);
    // ...and the plain route's slow request on it waits for the upstream's answer, not the 500 ms.
    const plain = await request(gw.url, { path: '/plain/slow', headers: { 'x-request-id': 'plain' } });
    assert.equal(plain.status, 200);
    assert.equal((await gw.logFor('plain')).reused, true);
    // And back: the fast route's clock again on the same connection.
    const fast = await request(gw.url, { path: '/fast/slow' });
    assert.equal(fast.status, 504);
    assert.match(String(fast.headers['proxy-status']), TIMED_OUT);
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test("a route's read timeout cuts its own stalled body, not the other route's", {
  timeout: 30_000,
}, async () => {
  const upstream = await slowUpstream();
  const gw = await startTestGateway(twoRoutes(upstream.url, '    timeouts: { read: 300ms }\n'));
  try {
    const fast = await request(gw.url, { path: '/fast/stall', headers: { 'x-request-id': 'fast' } });
    assert.equal(fast.status, 200);
    assert.equal(fast.aborted, true);
    const line = await gw.logFor('fast');
    assert.equal(line.error, 'connection_read_timeout');
    const plain = await request(gw.url, { path: '/plain/stall' });
    assert.equal(plain.status, 200);
    assert.equal(plain.text, '1234567890');
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test("a route's total timeout is its requests' deadline, across its retries", {
  timeout: 30_000,
}, async () => {
  const [a, b] = await Promise.all([slowUpstream(), slowUpstream()]);
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
    timeouts: { response: 600ms, total: 600ms }
upstreams:
  app:
    retries: { attempts: 2, per_try_timeout: 400ms, backoff: { base: 1ms, max: 1ms } }
    targets: [{ url: ${a.url} }, { url: ${b.url} }]
`);
  try {
    const res = await request(gw.url, { path: '/slow', headers: { 'x-request-id': 'total' } });
    assert.equal(res.status, 504);
    assert.equal(
      res.headers['proxy-status'],
      'edge-1; error=http_response_timeout; details="no response head within the total timeout of 600 ms"; next-hop="app"',
    );
    // The first attempt's head clock was the per-try 400 ms; the second was cut by the route's total.
    assert.equal((await gw.logFor('total')).attempts, 2);
    assert.deepEqual([...a.paths, ...b.paths], ['/slow', '/slow']);
  } finally {
    await gw.close();
    await Promise.all([a.close(), b.close()]);
  }
});

test("route_defaults.timeouts is every route's, and a route's own key overrides it", {
  timeout: 30_000,
}, async () => {
  const upstream = await slowUpstream();
  const gw = await startTestGateway(
    twoRoutes(upstream.url, '', 'route_defaults:\n  timeouts: { response: 500ms }\n').replace(
      '  - name: plain\n',
      '  - name: plain\n    timeouts: { response: 5s }\n',
    ),
  );
  try {
    await fastTimesOutPlainWaits(gw.url);
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test("a route's connect timeout bounds the connection opened for its request", {
  timeout: 30_000,
}, async () => {
  const unaccepting = await startUnaccepting();
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
    timeouts: { connect: 300ms }
upstreams:
  app:
    retries: { attempts: 1 }
    timeouts: { connect: 20s }
    targets: [{ url: ${unaccepting.url} }]
`);
  try {
    const res = await request(gw.url, { path: '/x' });
    assert.equal(res.status, 504);
    assert.equal(
      res.headers['proxy-status'],
      'edge-1; error=connection_timeout; details="TCP connect not done after 300 ms"; next-hop="app"',
    );
  } finally {
    await gw.close();
    await unaccepting.close();
  }
});

test("over HTTP/2 (h2c) too: each stream runs on its own route's response timeout", {
  timeout: 30_000,
}, async () => {
  const timers = new Set<NodeJS.Timeout>();
  const server = http2.createServer((_req, res) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!res.stream.destroyed) res.end('slow but whole');
    }, SLOW_MS);
    timers.add(timer);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const gw = await startTestGateway(
    twoRoutes(`http://127.0.0.1:${port}`, '    timeouts: { response: 500ms }\n').replace(
      '    retries: { attempts: 1 }\n',
      '    retries: { attempts: 1 }\n    protocol: h2c\n',
    ),
  );
  try {
    await fastTimesOutPlainWaits(gw.url);
  } finally {
    await gw.close();
    for (const timer of timers) clearTimeout(timer);
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
    });
  }
});

test("a route's timeouts are its own requests', not its auth service's: the auth call runs on its upstream's", {
  timeout: 30_000,
}, async () => {
  const timers = new Set<NodeJS.Timeout>();
  // Lets every request in, after 1 s.
  const service = await startAuthService((_req, res) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      res.end();
    }, 1000);
    timers.add(timer);
  });
  const { gw, close } = await startAuthStage(
    (app) => `name: edge-1
routes:
  - match: { path: /app }
    upstream: app
    timeouts: { response: 300ms }
    auth: { forward: { upstream: sso, timeout: 5s } }
upstreams:
  app:
    targets: [{ url: ${app} }]
  sso:
    targets: [{ url: "http://${service.host}" }]
`,
  );
  try {
    const res = await request(gw.url, { path: '/app', headers: { 'x-request-id': 'let-in' } });
    assert.equal(res.status, 200);
    assert.equal((await gw.logFor('let-in')).auth, 'allowed');
  } finally {
    for (const timer of timers) clearTimeout(timer);
    await close(service);
  }
});
