/**
 * The retry rule read from outside (DESIGN.md, "Rules that go with it"; docs/resilience.md): which
 * requests go again after a failure, and how far the retry budget lets a failing upstream be
 * asked again. Real gateways, real upstreams that count what reached them: every assertion is a
 * count or an exact field.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { startEcho } from '../../src/kits/fault-kit/http-servers.ts';
import { readRequest, startRawFault } from '../../src/kits/fault-kit/raw-server.ts';
import { startResetBeforeHead } from '../../src/kits/fault-kit/reset-faults.ts';
import { startRefusing, startUnaccepting } from '../../src/kits/fault-kit/unreachable-faults.ts';
import { request } from '../helpers/http-client.ts';
import { closeAll } from '../helpers/keep.ts';
import { startTestGateway } from '../helpers/test-gateway.ts';

const pool = (urls: string[], extra: string, route = '') => `name: edge-1
routes:
  - match: { path: / }
    upstream: app${route}
upstreams:
  app:
    balancer: round_robin
    targets:
${urls.map((url) => `      - url: ${url}`).join('\n')}
${extra}`;

test('after a reset once the request was sent: DELETE, OPTIONS and a GET with a body go again, whole; PATCH does not', async () => {
  for (const [method, body, retried] of [
    ['DELETE', '', true],
    ['OPTIONS', '', true],
    ['GET', '{"q":"a body"}', true],
    ['PATCH', '{"n":1}', false],
  ] as const) {
    const resetting = await startResetBeforeHead();
    const healthy = await startEcho();
    const gw = await startTestGateway(
      pool([resetting.url, healthy.url], '    outlier_detection: { consecutive_failures: 0 }\n'),
    );
    try {
      const id = `${method}-once`;
      const res = await request(gw.url, {
        method,
        path: '/items/1',
        body: body || undefined,
        // node:http frames no body of a GET, DELETE or OPTIONS by itself: the length says it is there.
        headers: { 'x-request-id': id, ...(body ? { 'content-length': String(body.length) } : {}) },
      });
      assert.equal(resetting.received.length, 1, `${method}: the first target got it once`);
      assert.equal(res.status, retried ? 200 : 502, method);
      assert.equal(healthy.received.length, retried ? 1 : 0, method);
      if (retried) assert.equal(healthy.received[0].body.toString(), body, `${method}: its body whole`);
      const line = await gw.logFor(id);
      assert.equal(line.attempts, retried ? 2 : 1, method);
      if (!retried) assert.equal(line.retry_skipped, 'not_idempotent');
    } finally {
      await gw.close();
      await closeAll(resetting, healthy);
    }
  }
});

test('a POST with Idempotency-Key, on a route that allows its retry: the next target gets the same key and body', async () => {
  const resetting = await startResetBeforeHead();
  const healthy = await startEcho();
  const gw = await startTestGateway(
    pool(
      [resetting.url, healthy.url],
      '    outlier_detection: { consecutive_failures: 0 }\n',
      '\n    retry_idempotency_key: true',
    ),
  );
  try {
    const res = await request(gw.url, {
      method: 'POST',
      path: '/pay',
      body: '{"amount":5}',
      headers: { 'idempotency-key': 'pay-7', 'x-request-id': 'keyed' },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(
      [...resetting.received, ...healthy.received].map((r) => [
        r.headers['idempotency-key'],
        r.body.toString(),
      ]),
      [
        ['pay-7', '{"amount":5}'],
        ['pay-7', '{"amount":5}'],
      ],
      'the same operation, named the same way, twice',
    );
    assert.equal((await gw.logFor('keyed')).attempts, 2);
  } finally {
    await gw.close();
    await closeAll(resetting, healthy);
  }
});

test('a POST that never reached the upstream goes to another target, its streamed body whole: refused, or its connect timed out', async () => {
  const size = 4 * 1024 * 1024; // past replay_body and limits.buffer: it streams
  const upload = Buffer.alloc(size, 'p');
  for (const [name, start, error] of [
    ['refused', startRefusing, 'connection_refused'],
    ['unaccepting', startUnaccepting, 'connection_timeout'],
  ] as const) {
    const unreachable = await start();
    const healthy = await startEcho();
    const gw = await startTestGateway(
      pool(
        [unreachable.url, healthy.url],
        '    outlier_detection: { consecutive_failures: 0 }\n    timeouts: { connect: 200ms }\n',
        '\n    request_buffering: false',
      ),
    );
    try {
      const res = await request(gw.url, {
        method: 'POST',
        path: '/orders',
        body: upload,
        headers: { 'x-request-id': name, 'content-length': String(size) },
      });
      assert.equal(res.status, 200, name);
      assert.equal(unreachable.received.length, 0, `${name}: nothing reached the first target`);
      assert.equal(healthy.received.length, 1, name);
      assert.ok(healthy.received[0].body.equals(upload), `${name}: the body arrived whole, once`);
      const line = await gw.logFor(name);
      assert.deepEqual(
        (line.tries as { error?: string; status?: number }[]).map((t) => t.error ?? t.status),
        [error, 200],
      );
    } finally {
      await gw.close();
      await closeAll(unreachable, healthy);
    }
  }
});

test('the retry budget: a storm of resets after sending adds at most ratio × requests + min_concurrent attempts, and each refusal is counted', async () => {
  const targets = await Promise.all([startResetBeforeHead(), startResetBeforeHead()]);
  const ratio = 0.2;
  const minConcurrent = 3;
  const gw = await startTestGateway(
    pool(
      targets.map((t) => t.url),
      `    outlier_detection: { consecutive_failures: 0 }
    circuit_breaker: { consecutive_failures: 0 }
    retries: { attempts: 2, backoff: { base: 1ms, max: 1ms }, budget: { ratio: ${ratio}, min_concurrent: ${minConcurrent}, min_per_second: 0 } }
`,
    ),
  );
  try {
    const total = 200;
    let sent = 0;
    const statuses: number[] = [];
    const worker = async () => {
      while (sent < total) {
        const n = ++sent;
        statuses.push((await request(gw.url, { path: `/storm/${n}` })).status);
      }
    };
    await Promise.all(Array.from({ length: 10 }, worker));
    assert.deepEqual(statuses, new Array(total).fill(502), 'every request failed with its reset');
    const reached = targets.reduce((sum, t) => sum + t.received.length, 0);
    const lines = gw.logs.filter((l) => l.msg === 'request');
    assert.equal(lines.length, total);
    const retried = lines.filter((l) => l.attempts === 2).length;
    const refused = lines.filter((l) => l.retry_skipped === 'budget').length;
    // Each request earns `ratio` of a retry, the budget starts with `min_concurrent` saved up, and
    // each retry spends one (the floor is off): the documented bound, exactly.
    assert.ok(
      reached <= total * (1 + ratio) + minConcurrent,
      `${reached} attempts reached the upstream for ${total} requests`,
    );
    assert.equal(reached, total + retried, 'every attempt the log names reached a target');
    console.log(
      `budget storm: ${total} requests, ${retried} retried, ${refused} refused by the budget, ${reached} attempts reached the upstream`,
    );
    assert.ok(retried >= 1, 'the budget allowed some retries');
    assert.equal(retried + refused, total, 'every request not retried says the budget refused it');
    const { text } = await gw.gateway.metrics.exposition();
    assert.match(
      text,
      new RegExp(`^candor_retries_skipped_total\\{upstream="app",why="budget"\\} ${refused}$`, 'm'),
    );
    assert.match(
      text,
      new RegExp(
        `^candor_retries_total\\{upstream="app",reason="connection_terminated",result="connection_terminated"\\} ${retried}$`,
        'm',
      ),
    );
  } finally {
    await gw.close();
    await closeAll(...targets);
  }
});

test('the keep-alive race is not charged to the budget: an upstream that resets every reused connection is asked at most attempts times a request', async () => {
  // Answers the first request of each connection, reads the second and resets: from the gateway's
  // side, the keep-alive race every time a pooled connection is reused.
  const breaksReused = () =>
    startRawFault(async (connection) => {
      await readRequest(connection);
      await connection.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      await readRequest(connection);
      await connection.reset(0);
    });
  const targets = await Promise.all([breaksReused(), breaksReused()]);
  const gw = await startTestGateway(
    pool(
      targets.map((t) => t.url),
      `    outlier_detection: { consecutive_failures: 0 }
    circuit_breaker: { consecutive_failures: 0 }
    retries: { attempts: 2, budget: { ratio: 0.2, min_concurrent: 3, min_per_second: 0 } }
`,
    ),
  );
  try {
    const total = 200;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    let sent = 0;
    const get = () =>
      new Promise<void>((resolve, reject) => {
        http
          .get(`${gw.url}/reused/${++sent}`, { agent }, (res) => res.resume().on('end', resolve))
          .on('error', reject);
      });
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (sent < total) await get();
      }),
    );
    agent.destroy();
    const lines = gw.logs.filter((l) => l.msg === 'request');
    const retried = lines.filter((l) => l.attempts === 2).length;
    const reached = targets.reduce((sum, t) => sum + t.received.length, 0);
    console.log(
      `reused connections reset: ${total} requests, ${retried} retried, ${reached} attempts reached the upstream`,
    );
    assert.equal(reached, total + retried);
    assert.ok(reached <= total * 2, 'attempts bound it: one more try a request');
    assert.equal(
      lines.filter((l) => l.retry_skipped === 'budget').length,
      0,
      'the budget refused none: the race is not charged to it',
    );
  } finally {
    await gw.close();
    await closeAll(...targets);
  }
});
