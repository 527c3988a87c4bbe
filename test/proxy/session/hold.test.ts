/**
 * Waiting out a restart (issue 35, item 2; upstream `hold`, as Caddy's `lb_try_duration`):
 * a request no target can take waits, bounded in time, count and bytes, and goes in order
 * when a target comes back; past a bound it gets the honest 503 with Retry-After; a drain
 * answers the waiting ones at once. Real sockets: an upstream port that refuses, then serves.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { startDnsServer } from '../../helpers/dns-server.ts';
import { request } from '../../helpers/http-client.ts';
import { singleUpstream, startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';
import { type Sample, samples, sampleValue, scrape } from '../../observe/metrics/scrape.ts';

const held = (edge: TestGateway) => edge.gateway.runtime().upstreams.get('app')?.hold.size ?? 0;

function gatewayOn(port: number, hold: string, extra = ''): Promise<TestGateway> {
  return startTestGateway(
    singleUpstream(`http://127.0.0.1:${port}`, {
      upstream: `    hold: ${hold}\n    pool: { max_connections: 1 }\n${extra}`,
    }),
  );
}

test('a restart inside hold.timeout: every held request is answered 200, in order, and logs held_ms', async () => {
  const port = await freePort();
  const edge = await gatewayOn(port, '{ timeout: 20s, max_requests: 10 }');
  const seen: string[] = [];
  const upstream = http.createServer((req, res) => {
    seen.push(req.url ?? '');
    res.end('back');
  });
  try {
    // Nothing listens on the port: each request is refused, and waits.
    const answers = [];
    for (const path of ['/one', '/two', '/three']) {
      answers.push(
        request(edge.url, { path, headers: { 'x-request-id': path.slice(1) }, timeoutMs: 20_000 }),
      );
      await waitUntil(`${path} held`, () => held(edge) === answers.length);
    }
    await new Promise<void>((resolve) => upstream.listen(port, '127.0.0.1', resolve));
    const responses = await Promise.all(answers);
    assert.deepEqual(
      responses.map((r) => [r.status, r.text]),
      [
        [200, 'back'],
        [200, 'back'],
        [200, 'back'],
      ],
    );
    assert.deepEqual(seen, ['/one', '/two', '/three'], 'in the order they came');
    for (const id of ['one', 'two', 'three']) {
      const line = await edge.logFor(id);
      assert.equal(line.status, 200);
      assert.equal(typeof line.held_ms, 'number');
      assert.ok((line.held_ms as number) > 0);
      // Its refused try was tried again once a target was back: no retry was skipped in the end.
      assert.equal(line.retry_skipped, undefined, JSON.stringify(line));
    }
  } finally {
    await edge.close();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  }
});

test('past hold.timeout: 503 destination_unavailable with Retry-After, held_ms logged; nothing reached an upstream', async () => {
  const port = await freePort();
  const edge = await gatewayOn(port, '{ timeout: 300ms }');
  try {
    const res = await request(edge.url, { path: '/late', headers: { 'x-request-id': 'late' } });
    assert.equal(res.status, 503);
    assert.equal(res.headers['retry-after'], '1');
    assert.match(
      String(res.headers['proxy-status']),
      /^edge-1; error=destination_unavailable; details="no target of \\"app\\" took the request within hold.timeout \(300 ms\); the last try: connection_refused/,
    );
    const line = await edge.logFor('late');
    assert.equal(line.status, 503);
    assert.equal(line.error, 'destination_unavailable');
    assert.ok((line.held_ms as number) > 0);
  } finally {
    await edge.close();
  }
});

test("past hold.timeout with the target ejected and failing its checks: Retry-After is the next probe's (which, a request waiting, ends the ejection), not the ejection's end", async () => {
  // Answers its checks, resets every request: the first request ejects it for a minute.
  const upstream = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', (chunk) => {
      if (chunk.toString('latin1').startsWith('GET /health '))
        socket.end('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
      else socket.resetAndDestroy();
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const { port } = upstream.address() as net.AddressInfo;
  const edge = await gatewayOn(
    port,
    '{ timeout: 300ms }',
    '    health_check: { path: /health, interval: 500ms, rise: 1, fall: 1 }\n    panic_threshold: 0\n    outlier_detection: { consecutive_failures: 1, base_ejection_time: 60s }\n',
  );
  try {
    const target = edge.gateway.runtime().upstreams.get('app')?.targets[0];
    await waitUntil('the first probe passed', () => target?.lastProbe?.ok === true);
    const reset = await request(edge.url, { path: '/reset' });
    assert.equal(reset.status, 502);
    assert.ok((target?.ejectedUntil ?? 0) > performance.now() + 30_000, 'ejected for a minute');
    // Then it goes down: refused, its next probe fails.
    await new Promise((resolve) => upstream.close(resolve));
    await waitUntil('its checks took it out', () => target?.checkedHealthy === false);
    const res = await request(edge.url, { path: '/late', headers: { 'x-request-id': 'late' } });
    assert.equal(res.status, 503);
    assert.match(
      String(res.headers['proxy-status']),
      /^edge-1; error=destination_unavailable; details="no target of \\"app\\" took the request within hold.timeout \(300 ms\); the last try: destination_unavailable/,
    );
    // A request sent again waits, asks a probe at once, and goes when it passes (ending the
    // ejection): not a minute away, as the ejection's own end said.
    assert.equal(res.headers['retry-after'], '1');
  } finally {
    await edge.close();
    if (upstream.listening) await new Promise((resolve) => upstream.close(resolve));
  }
});

test("a request refused past hold.max_requests while the restart's refusals hold the circuit open: Retry-After 1, not the open_time left (a request sent again waits, and its try goes as the circuit's probe)", async () => {
  const port = await freePort();
  const edge = await gatewayOn(
    port,
    '{ timeout: 20s, max_requests: 1 }',
    '    circuit_breaker: { consecutive_failures: 1, open_time: 60s }\n',
  );
  try {
    const first = request(edge.url, { path: '/first', timeoutMs: 20_000 });
    await waitUntil('the first held', () => held(edge) === 1);
    const res = await request(edge.url, { path: '/second' });
    assert.equal(res.status, 503);
    assert.match(
      String(res.headers['proxy-status']),
      /hold.max_requests \(1\) wait for one already; the last try: destination_unavailable \(the circuit of \\"app\\" is (half-)?open/,
    );
    assert.equal(res.headers['retry-after'], '1');
    await edge.close();
    assert.equal((await first).status, 503, 'the drain answers the one waiting');
  } finally {
    await edge.close();
  }
});

test('the requests held are a gauge per upstream, candor_upstream_requests_held: up while they wait, 0 once answered', async () => {
  const port = await freePort();
  const edge = await startTestGateway(
    `${singleUpstream(`http://127.0.0.1:${port}`, { upstream: '    hold: { timeout: 30s }' })}metrics: { listen: 127.0.0.1:0 }\n`,
  );
  const heldNow = async (): Promise<number | undefined> => {
    const all: Sample[] = samples((await scrape(edge.gateway.metricsPort() ?? 0)).text);
    return sampleValue(all, 'candor_upstream_requests_held', { upstream: 'app' });
  };
  const upstream = http.createServer((_req, res) => res.end('back'));
  try {
    assert.equal(await heldNow(), 0);
    const waiting = [1, 2].map((n) => request(edge.url, { path: `/${n}`, timeoutMs: 30_000 }));
    await waitUntil('both held', () => held(edge) === 2);
    // A held request woken to try the target again is out of line for that try (the gauge's
    // row says so): a scrape in that moment reads 1, the next one 2.
    let seen = await heldNow();
    for (let i = 0; i < 20 && seen !== 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      seen = await heldNow();
    }
    assert.equal(seen, 2);
    await new Promise<void>((resolve) => upstream.listen(port, '127.0.0.1', resolve));
    assert.deepEqual(
      (await Promise.all(waiting)).map((r) => r.status),
      [200, 200],
    );
    assert.equal(await heldNow(), 0);
  } finally {
    await edge.close();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  }
});

test('past hold.max_requests: 503 at once, the held one waits on', async () => {
  const port = await freePort();
  const edge = await gatewayOn(port, '{ timeout: 30s, max_requests: 1 }');
  try {
    const first = request(edge.url, { path: '/first', timeoutMs: 30_000 });
    first.catch(() => {});
    await waitUntil('the first held', () => held(edge) === 1);
    const second = await request(edge.url, { path: '/second', headers: { 'x-request-id': 'second' } });
    assert.equal(second.status, 503);
    assert.equal(second.headers['retry-after'], '1');
    assert.match(
      String(second.headers['proxy-status']),
      /error=destination_unavailable; details=.*hold.max_requests/,
    );
    assert.equal((await edge.logFor('second')).held_ms, undefined, 'it never waited');
    assert.equal(held(edge), 1);
  } finally {
    await edge.close();
  }
});

test('a drain during a hold answers the held requests 503 at once', async () => {
  const port = await freePort();
  const edge = await startTestGateway(
    `${singleUpstream(`http://127.0.0.1:${port}`, { upstream: '    hold: { timeout: 60s }' })}drain: { delay: 0s, timeout: 30s }\n`,
  );
  try {
    const waiting = request(edge.url, { path: '/held', timeoutMs: 20_000 });
    await waitUntil('held', () => held(edge) === 1);
    const drained = edge.gateway.drain();
    const res = await waiting;
    assert.equal(res.status, 503);
    assert.equal(res.headers['retry-after'], '1');
    assert.match(
      String(res.headers['proxy-status']),
      /error=destination_unavailable; details=.*the gateway is draining/,
    );
    await drained;
  } finally {
    await edge.close();
  }
});

test('a request body kept in memory past hold.max_body is not held: 503 at once', async () => {
  const port = await freePort();
  const edge = await gatewayOn(port, '{ timeout: 30s, max_body: 10 }');
  try {
    const res = await request(edge.url, { method: 'POST', path: '/big', body: 'x'.repeat(11) });
    assert.equal(res.status, 503);
    assert.match(String(res.headers['proxy-status']), /details=.*hold.max_body/);
    assert.equal(held(edge), 0);
  } finally {
    await edge.close();
  }
});

test('a request held asks the health check to probe now: a target out of rotation comes back without waiting for the interval', async () => {
  const port = await freePort();
  // Probes an hour apart, every verdict believed (no panic), no passive ejection: only a probe
  // made at once can bring the target back inside hold.timeout.
  const edge = await gatewayOn(
    port,
    '{ timeout: 20s }',
    '    health_check: { path: /health, interval: 3600s, rise: 1, fall: 1 }\n    panic_threshold: 0\n    outlier_detection: { consecutive_failures: 0 }\n',
  );
  const seen: string[] = [];
  const upstream = http.createServer((req, res) => {
    seen.push(req.url ?? '');
    res.end('back');
  });
  try {
    const target = edge.gateway.runtime().upstreams.get('app')?.targets[0];
    await waitUntil('the first probe took the target out', () => target?.checkedHealthy === false);
    const waiting = request(edge.url, {
      path: '/held',
      headers: { 'x-request-id': 'held' },
      timeoutMs: 20_000,
    });
    await waitUntil('held', () => held(edge) === 1);
    await new Promise<void>((resolve) => upstream.listen(port, '127.0.0.1', resolve));
    const res = await waiting;
    assert.equal(res.status, 200);
    assert.equal(seen[0], '/health', 'a probe, not the next interval, brought it back');
    assert.equal(seen.at(-1), '/held');
    assert.ok(((await edge.logFor('held')).held_ms as number) > 0);
  } finally {
    await edge.close();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  }
});

test('a request that reached an upstream is never held: its failure is answered at once', async () => {
  // Reads the request, then resets: the request reached the target.
  const upstream = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', () => socket.resetAndDestroy());
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const { port } = upstream.address() as net.AddressInfo;
  const edge = await gatewayOn(port, '{ timeout: 30s }');
  try {
    const res = await request(edge.url, {
      method: 'POST',
      path: '/reached',
      body: 'x',
      headers: { 'x-request-id': 'reached' },
    });
    assert.equal(res.status, 502);
    assert.match(String(res.headers['proxy-status']), /error=connection_terminated/);
    assert.equal((await edge.logFor('reached')).held_ms, undefined);
    assert.equal(held(edge), 0);
  } finally {
    await edge.close();
    await new Promise((resolve) => upstream.close(resolve));
  }
});

test("the upstream's timeouts.total passing while a request waits: the same honest 503 (no target took it), never a 504 that blames a slow upstream", async () => {
  const port = await freePort();
  const edge = await gatewayOn(port, '{ timeout: 30s }', '    timeouts: { total: 400ms, response: 300ms }\n');
  try {
    const res = await request(edge.url, { path: '/total', headers: { 'x-request-id': 'total' } });
    assert.equal(res.status, 503);
    assert.equal(res.headers['retry-after'], '1');
    assert.match(
      String(res.headers['proxy-status']),
      /^edge-1; error=destination_unavailable; details="no target of \\"app\\" took the request within timeouts.total \(400 ms\); the last try: connection_refused/,
    );
    const line = await edge.logFor('total');
    assert.equal(line.status, 503);
    assert.equal(line.error, 'destination_unavailable');
    assert.equal(line.stage, 'not_sent');
    assert.ok((line.held_ms as number) > 0);
    assert.equal(held(edge), 0);
  } finally {
    await edge.close();
  }
});

test('a client that leaves while its request waits gives its place back at once, is logged 499, and never reaches the upstream', async () => {
  const port = await freePort();
  const edge = await gatewayOn(port, '{ timeout: 30s, max_requests: 1 }');
  const seen: string[] = [];
  const upstream = http.createServer((req, res) => {
    seen.push(req.url ?? '');
    res.end('back');
  });
  try {
    const socket = net.connect(edge.port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write('GET /leaves HTTP/1.1\r\nHost: a\r\nX-Request-Id: leaves\r\n\r\n');
    await waitUntil('held', () => held(edge) === 1);
    socket.destroy();
    const line = await edge.logFor('leaves');
    assert.equal(line.client_aborted, true);
    assert.equal(line.status, 499);
    assert.equal(
      line.error,
      'client_closed',
      'its 499 names the client leaving, as one during an attempt does',
    );
    assert.ok((line.held_ms as number) > 0);
    assert.equal(held(edge), 0);
    // Its place is free: the next request waits in it (not refused past max_requests).
    const next = request(edge.url, { path: '/next', timeoutMs: 30_000 });
    next.catch(() => {});
    await waitUntil('the next one held', () => held(edge) === 1);
    await new Promise<void>((resolve) => upstream.listen(port, '127.0.0.1', resolve));
    assert.equal((await next).status, 200);
    assert.deepEqual(seen, ['/next'], 'the request whose client left was never sent');
  } finally {
    await edge.close();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  }
});

test('an HTTP/2 client that resets its held stream (CANCEL): its place goes at once, it is logged 499, and it never reaches the upstream; the connection serves on', async () => {
  const port = await freePort();
  const edge = await startTestGateway(
    singleUpstream(`http://127.0.0.1:${port}`, { upstream: '    hold: { timeout: 30s, max_requests: 1 }\n' }),
    {},
    'http2: true',
  );
  const seen: string[] = [];
  const upstream = http.createServer((req, res) => {
    seen.push(req.url ?? '');
    res.end('back');
  });
  const client = http2.connect(edge.url);
  client.on('error', () => {});
  try {
    const leaving = client.request({ ':path': '/leaves', 'x-request-id': 'h2-leaves' });
    leaving.on('error', () => {});
    await waitUntil('held', () => held(edge) === 1);
    leaving.close(http2.constants.NGHTTP2_CANCEL);
    const line = await edge.logFor('h2-leaves');
    assert.deepEqual(
      [line.status, line.error, line.details, line.client_aborted],
      [499, 'client_closed', 'client reset the stream (CANCEL)', true],
    );
    assert.ok((line.held_ms as number) > 0);
    assert.equal(held(edge), 0);
    // Its place is free: the next stream on the same connection waits in it, and goes once the target is back.
    const next = client.request({ ':path': '/next' });
    const status = new Promise<unknown>((resolve, reject) => {
      next.on('response', (head) => resolve(head[':status']));
      next.on('error', reject);
    });
    next.resume();
    await waitUntil('the next one held', () => held(edge) === 1);
    await new Promise<void>((resolve) => upstream.listen(port, '127.0.0.1', resolve));
    assert.equal(await status, 200);
    assert.deepEqual(seen, ['/next'], 'the stream the client reset was never sent');
  } finally {
    client.close();
    await edge.close();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  }
});

test('a POST whose body was read whole is held and sent whole once a target is back; one whose body streams is answered at once', async () => {
  const port = await freePort();
  const edge = await startTestGateway(`name: edge-1
routes:
  - match: { path: /stream }
    upstream: app
    request_buffering: false
  - match: { path: / }
    upstream: app
upstreams:
  app:
    hold: { timeout: 20s }
    retries: { replay_body: 0 }
    targets:
      - url: http://127.0.0.1:${port}
`);
  const seen: string[] = [];
  const upstream = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      seen.push(`${req.method} ${req.url} ${body}`);
      res.end('back');
    });
  });
  try {
    const streamed = await request(edge.url, { method: 'POST', path: '/stream', body: 'streamed body' });
    assert.equal(streamed.status, 502);
    assert.match(String(streamed.headers['proxy-status']), /error=connection_refused/);
    const post = request(edge.url, { method: 'POST', path: '/form', body: 'name=value', timeoutMs: 20_000 });
    await waitUntil('the POST held', () => held(edge) === 1);
    await new Promise<void>((resolve) => upstream.listen(port, '127.0.0.1', resolve));
    const answer = await post;
    assert.equal(answer.status, 200);
    assert.deepEqual(seen, ['POST /form name=value']);
  } finally {
    await edge.close();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  }
});

for (const [how, check] of [
  ['without a health check', ''],
  ['with a health check', '    health_check: { path: /, interval: 30s, timeout: 1s, fall: 1, rise: 1 }\n'],
] as const) {
  test(`a restart whose refusals opened the circuit, ${how}: the held requests go once the target is back, not after the circuit's open time`, async () => {
    const port = await freePort();
    const edge = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    hold: { timeout: 20s }
    circuit_breaker: { consecutive_failures: 5, open_time: 60s }
${check}    targets:
      - url: http://127.0.0.1:${port}
`);
    const upstream = http.createServer((_req, res) => res.end('back'));
    try {
      const answers = Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          request(edge.url, { path: `/r${i}`, headers: { 'x-request-id': `r${i}` }, timeoutMs: 30_000 }),
        ),
      );
      const app = edge.gateway.runtime().upstreams.get('app');
      const circuit = app?.circuit;
      // With a check, its refused probe may take the target out before the requests reach it:
      // panic sends none to a target its probe could not reach, so they are held, the circuit closed.
      const outByCheck = () => check !== '' && app?.targets[0].checkedHealthy === false;
      await waitUntil(
        'the circuit open or the target out',
        () => circuit?.stateAt(performance.now()) === 'open' || outByCheck(),
      );
      await waitUntil('every request held', () => held(edge) === 10);
      await new Promise<void>((resolve) => upstream.listen(port, '127.0.0.1', resolve));
      const responses = await answers;
      assert.deepEqual(
        responses.map((r) => [r.status, r.text]),
        Array(10).fill([200, 'back']),
      );
      assert.ok(((await edge.logFor('r0')).held_ms as number) > 0);
      assert.equal(circuit?.stateAt(performance.now()), 'closed');
    } finally {
      await edge.close();
      upstream.closeAllConnections();
      await new Promise((resolve) => upstream.close(resolve));
    }
  });
}

test('a reload that moves the upstream to a new target while requests wait: they go to it, in order, not to the old one until hold.timeout', async () => {
  const yaml = (port: number) =>
    singleUpstream(`http://127.0.0.1:${port}`, { upstream: '    hold: { timeout: 20s }\n' });
  const old = await freePort();
  const edge = await startTestGateway(yaml(old));
  const seen: string[] = [];
  const deployed = http.createServer((req, res) => {
    seen.push(req.url ?? '');
    res.end('new');
  });
  await new Promise<void>((resolve) => deployed.listen(0, '127.0.0.1', resolve));
  try {
    const answers = [];
    for (const path of ['/one', '/two']) {
      answers.push(
        request(edge.url, { path, headers: { 'x-request-id': `moved${path}` }, timeoutMs: 20_000 }),
      );
      await waitUntil(`${path} held`, () => held(edge) === answers.length);
    }
    // The deploy: the config names the new instance's port, the old one never comes back.
    const { port } = deployed.address() as net.AddressInfo;
    await edge.gateway.reload(parseConfig(`listen:\n  - address: 127.0.0.1:0\n${yaml(port)}`, '<test>', {}));
    const responses = await Promise.all(answers);
    assert.deepEqual(
      responses.map((r) => [r.status, r.text]),
      [
        [200, 'new'],
        [200, 'new'],
      ],
    );
    assert.deepEqual(seen, ['/one', '/two'], 'in the order they came');
    const line = await edge.logFor('moved/one');
    assert.equal(line.target, `http://127.0.0.1:${port}`);
    assert.equal(typeof line.held_ms, 'number');
  } finally {
    await edge.close();
    deployed.close();
  }
});

test('a DNS answer that moves the upstream to a new address while requests wait: they go to it', async () => {
  const deployed = http.createServer((_req, res) => res.end('new'));
  await new Promise<void>((resolve) => deployed.listen(0, '127.0.0.1', resolve));
  const { port } = deployed.address() as net.AddressInfo;
  const dns = await startDnsServer();
  // The old instance's address refuses (nothing listens on 127.0.0.3).
  dns.set('app.test', [{ type: 'A', address: '127.0.0.3', ttl: 1 }]);
  const edge = await startTestGateway(`name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    hold: { timeout: 20s }
    discovery: { dns: app.test, port: ${port}, resolvers: [${dns.address}], interval: 200ms, min_ttl: 100ms }
`);
  try {
    const origins = () =>
      edge.gateway
        .runtime()
        .upstreams.get('app')
        ?.targets.map((t) => t.config.origin);
    await waitUntil('the first answer applied', () => origins()?.[0] === `http://127.0.0.3:${port}`);
    const answer = request(edge.url, {
      path: '/one',
      headers: { 'x-request-id': 'dns-one' },
      timeoutMs: 20_000,
    });
    await waitUntil('held', () => held(edge) === 1);
    dns.set('app.test', [{ type: 'A', address: '127.0.0.1', ttl: 1 }]);
    const response = await answer;
    assert.equal(response.status, 200);
    assert.equal(response.text, 'new');
    assert.equal((await edge.logFor('dns-one')).target, `http://127.0.0.1:${port}`);
  } finally {
    await edge.close();
    await dns.close();
    deployed.close();
  }
});
