/**
 * Retries, passive ejection, the circuit breaker and the retry budget, measured on real
 * sockets: every assertion is a count of what clients saw and what upstreams received.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { startEcho } from '../../src/kits/fault-kit/http-servers.ts';
import { readRequest, startRawFault } from '../../src/kits/fault-kit/raw-server.ts';
import { startResetBeforeHead } from '../../src/kits/fault-kit/reset-faults.ts';
import { startSwitchable } from '../../src/kits/fault-kit/switchable.ts';
import { startRefusing } from '../../src/kits/fault-kit/unreachable-faults.ts';
import { request } from '../helpers/http-client.ts';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';
import { waitUntil } from '../helpers/wait.ts';

const pool = (urls: string[], extra = '') => `name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
${urls.map((url) => `      - url: ${url}`).join('\n')}
${extra}`;

/** Sends `total` GETs, `concurrency` at a time over keep-alive; returns each one's status, in order sent. */
async function load(gw: TestGateway, total: number, concurrency: number, onSent?: (n: number) => void) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const statuses: number[] = new Array(total);
  let sent = 0;
  const worker = async () => {
    while (sent < total) {
      const n = ++sent;
      onSent?.(n);
      const status = await new Promise<number>((resolve, reject) => {
        http
          .get(`${gw.url}/item/${n}`, { agent }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          })
          .on('error', reject);
      });
      statuses[n - 1] = status;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  agent.destroy();
  return statuses;
}

test('a target killed mid-run: no GET sees an error, and once ejected it receives nothing', async () => {
  const [a, b, c] = await Promise.all([startSwitchable(), startSwitchable(), startSwitchable()]);
  const gw = await startTestGateway(pool([a.url, b.url, c.url]));
  try {
    const total = 3000;
    const statuses = await load(gw, total, 16, (n) => {
      if (n === 500) c.setMode('reset');
    });
    // The requests in flight on C when it died are retried within the retry budget (Envoy's
    // minimum of 3 concurrent retries): at most a few of that burst may see its 502. Once C
    // is ejected, every request is a 200.
    const errors = statuses.flatMap((s, i) => (s === 200 ? [] : [i + 1]));
    assert.ok(errors.length <= 5, `errors at requests ${errors.join(', ')}`);
    assert.ok(
      errors.every((n) => n > 500 - 16 && n <= 500 + 16 * 2),
      `errors only around the kill: ${errors.join(', ')}`,
    );
    assert.ok(
      statuses.slice(600).every((s) => s === 200),
      'after the ejection, no client sees an error',
    );
    // Before ejection (5 failures in a row) C may meet a few requests, and those in flight;
    // after it, nothing: 2500 requests went by, a third of which C would otherwise have had.
    assert.ok(c.accepted.reset.length <= 5 + 16, `C saw ${c.accepted.reset.length} connections while dead`);
    const retried = gw.logs.filter((l) => l.msg === 'request' && (l.attempts as number) > 1);
    assert.ok(retried.length > 0 && retried.length <= 5 + 16, `${retried.length} requests needed a retry`);
    for (const line of retried) {
      const tries = line.tries as { target: string; error?: string }[];
      assert.equal(tries[0].target, `http://127.0.0.1:${c.port}`);
      assert.equal(tries[0].error, 'connection_terminated');
      assert.notEqual(tries[1].target, tries[0].target, 'the retry went to another target');
    }
    assert.equal(a.answered + b.answered + c.answered, total - errors.length);
  } finally {
    await gw.close();
    await Promise.all([a.close(), b.close(), c.close()]);
  }
});

test('a storm: every target resets; attempts stay within the budget and clients get fast 503s', async () => {
  const targets = await Promise.all([startSwitchable(), startSwitchable()]);
  for (const t of targets) t.setMode('reset');
  const gw = await startTestGateway(pool(targets.map((t) => t.url)));
  try {
    const total = 400;
    const started = performance.now();
    const statuses = new Map<number, number>();
    const retryAfter = new Set<string>();
    const pending: Promise<void>[] = [];
    for (let i = 0; i < total; i++) {
      pending.push(
        request(gw.url, { path: `/storm/${i}` }).then((res) => {
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          if (res.status === 503) retryAfter.add(String(res.headers['retry-after']));
        }),
      );
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await Promise.all(pending);
    const attempts = targets.reduce((sum, t) => sum + t.accepted.reset.length, 0);
    const fast503 = statuses.get(503) ?? 0;
    // The tokens saved up, and the floor: a second's worth at once, then 10 a second.
    const reserve = 3 + 10 * 0.2 + 10 * (1 + (performance.now() - started) / 1000);
    // The figures the issue asks for, in the test's own output.
    console.log(
      `storm: ${total} client requests, ${attempts} upstream attempts, statuses ${JSON.stringify([...statuses])}`,
    );
    assert.ok(attempts <= (1 + 0.2) * total + reserve, `${attempts} attempts for ${total} requests`);
    assert.equal(statuses.get(504) ?? 0, 0, 'no client waited for a timeout');
    assert.ok(fast503 >= total * 0.8, `${fast503} of ${total} were failed fast by the open circuit`);
    assert.equal((statuses.get(502) ?? 0) + fast503, total);
    for (const value of retryAfter)
      assert.ok(Number(value) >= 1 && Number(value) <= 5, `Retry-After ${value}`);
    const failedFast = gw.logs.filter((l) => l.msg === 'request' && l.status === 503);
    for (const line of failedFast) assert.equal(line.error, 'destination_unavailable');
    // An open circuit answers without trying the upstream (a few were refused their retry by it).
    const untried = failedFast.filter((l) => l.attempts === 0).length;
    assert.ok(
      untried >= failedFast.length - 10,
      `${untried} of ${failedFast.length} 503s never tried the upstream`,
    );
  } finally {
    await gw.close();
    await Promise.all(targets.map((t) => t.close()));
  }
});

test('a POST that reached the upstream and then failed is never retried', async () => {
  const resetting = await startResetBeforeHead();
  const healthy = await startEcho();
  const gw = await startTestGateway(pool([resetting.url, healthy.url], '    balancer: round_robin\n'));
  try {
    const res = await request(gw.url, {
      method: 'POST',
      path: '/orders',
      body: '{"n":1}',
      headers: { 'x-request-id': 'post-1' },
    });
    assert.equal(res.status, 502);
    assert.match(String(res.headers['proxy-status']), /error=connection_terminated/);
    assert.equal(resetting.received.length, 1);
    assert.equal(healthy.received.length, 0, 'the POST was not sent a second time');
    assert.equal((await gw.logFor('post-1')).attempts, 1);
  } finally {
    await gw.close();
    await resetting.close();
    await healthy.close();
  }
});

test('a POST refused at connect is retried on another target', async () => {
  const refusing = await startRefusing();
  const healthy = await startEcho();
  const gw = await startTestGateway(pool([refusing.url, healthy.url]));
  try {
    const res = await request(gw.url, {
      method: 'POST',
      path: '/orders',
      body: '{"n":1}',
      headers: { 'x-request-id': 'post-2' },
    });
    assert.equal(res.status, 200);
    assert.equal(healthy.received.length, 1);
    assert.equal(healthy.received[0].body.toString(), '{"n":1}', 'the body arrived whole');
    const line = await gw.logFor('post-2');
    assert.equal(line.attempts, 2);
    assert.deepEqual(
      (line.tries as { error?: string; status?: number }[]).map((t) => t.error ?? t.status),
      ['connection_refused', 200],
    );
  } finally {
    await gw.close();
    await healthy.close();
  }
});

test('a POST with an Idempotency-Key is retried after reaching the upstream only where the route allows it, and only with a key', async () => {
  for (const [allowed, key] of [
    [true, 'k1'],
    [false, 'k1'],
    // An empty key names no operation the upstream could recognise a second time.
    [true, ''],
  ] as const) {
    const retried = allowed && key !== '';
    const resetting = await startResetBeforeHead();
    const healthy = await startEcho();
    // A fresh gateway each time: round robin sends the first request to the resetting target.
    const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
    retry_idempotency_key: ${allowed}
upstreams:
  app:
    targets:
      - url: ${resetting.url}
      - url: ${healthy.url}
`);
    try {
      const res = await request(gw.url, {
        method: 'POST',
        path: '/pay',
        body: 'x',
        headers: { 'idempotency-key': key },
      });
      assert.equal(resetting.received.length, 1);
      assert.equal(res.status, retried ? 200 : 502);
      assert.equal(healthy.received.length, retried ? 1 : 0);
    } finally {
      await gw.close();
      await resetting.close();
      await healthy.close();
    }
  }
});

test('the keep-alive race (the upstream closes idle pooled connections) never reaches a client', async () => {
  // Idle connections closed after 50 ms, and requests sent 45–54 ms after the last answer: some
  // land on a connection the upstream is closing that moment.
  const racer = await startEcho({
    keepAliveTimeout: 50,
    keepAliveTimeoutBuffer: 0,
    announceKeepAlive: false,
  });
  const gw = await startTestGateway(pool([racer.url]));
  try {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const statuses: number[] = [];
    for (let i = 0; i < 60; i++) {
      statuses.push(
        await new Promise<number>((resolve, reject) => {
          http
            .get(`${gw.url}/race/${i}`, { agent }, (res) => {
              res.resume();
              res.on('end', () => resolve(res.statusCode ?? 0));
            })
            .on('error', reject);
        }),
      );
      await new Promise((resolve) => setTimeout(resolve, 45 + (i % 10)));
    }
    agent.destroy();
    const failed = gw.logs.filter((l) => l.msg === 'request' && l.status !== 200);
    assert.deepEqual(
      statuses.filter((s) => s !== 200),
      [],
      `no client saw the race: ${JSON.stringify(failed)}`,
    );
  } finally {
    await gw.close();
    await racer.close();
  }
});

test('an ejected single target still takes the requests (panic over ejections): the client gets its real failure', async () => {
  const dead = await startSwitchable();
  dead.setMode('reset');
  const gw = await startTestGateway(
    pool(
      [dead.url],
      '    outlier_detection: { consecutive_failures: 2, base_ejection_time: 4s }\n    circuit_breaker: { consecutive_failures: 0 }\n    retries: { attempts: 1 }\n',
    ),
  );
  try {
    for (let i = 0; i < 5; i++) {
      const res = await request(gw.url, { headers: { 'x-request-id': `dead-${i}` } });
      assert.equal(res.status, 502, `request ${i}`);
      assert.match(String(res.headers['proxy-status']), /^edge-1; error=connection_terminated;/);
    }
    assert.equal(dead.accepted.reset.length, 5, 'every request reached the target, ejected or not');
    const lines = gw.logs.filter((l) => l.msg === 'request');
    assert.deepEqual(
      lines.map((l) => l.panic ?? false),
      [false, false, true, true, true],
      'from its ejection on, the pick is in panic',
    );
    assert.equal(gw.logs.filter((l) => l.msg === 'target ejected').length, 1, 'ejected once, not again');
  } finally {
    await gw.close();
    await dead.close();
  }
});

test('with panic_threshold: 0, an ejected single target: 503 destination_unavailable with Retry-After until its probe', async () => {
  const dead = await startSwitchable();
  dead.setMode('reset');
  const gw = await startTestGateway(
    pool(
      [dead.url],
      '    panic_threshold: 0\n    outlier_detection: { consecutive_failures: 2, base_ejection_time: 4s }\n    circuit_breaker: { consecutive_failures: 0 }\n    retries: { attempts: 1 }\n',
    ),
  );
  try {
    assert.equal((await request(gw.url)).status, 502);
    assert.equal((await request(gw.url)).status, 502);
    const res = await request(gw.url, { headers: { accept: 'application/json' } });
    assert.equal(res.status, 503);
    assert.match(String(res.headers['proxy-status']), /^edge-1; error=destination_unavailable;/);
    assert.ok(
      ['3', '4'].includes(String(res.headers['retry-after'])),
      `Retry-After ${res.headers['retry-after']}`,
    );
    assert.equal(JSON.parse(res.text).retry_after, Number(res.headers['retry-after']));
    assert.equal(dead.accepted.reset.length, 2, 'the ejected target got nothing more');
  } finally {
    await gw.close();
    await dead.close();
  }
});

test('an open circuit says when it will probe again, and a successful probe closes it', async () => {
  const target = await startSwitchable();
  target.setMode('reset');
  const gw = await startTestGateway(
    pool(
      [target.url],
      '    outlier_detection: { consecutive_failures: 0 }\n    circuit_breaker: { consecutive_failures: 3, open_time: 1s }\n    retries: { attempts: 1 }\n',
    ),
  );
  try {
    for (let i = 0; i < 3; i++) assert.equal((await request(gw.url)).status, 502);
    const open = await request(gw.url);
    assert.equal(open.status, 503);
    assert.equal(open.headers['retry-after'], '1');
    assert.equal(target.accepted.reset.length, 3);
    target.setMode('ok');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    assert.equal((await request(gw.url)).status, 200, 'the half-open probe went through and succeeded');
    assert.equal((await request(gw.url)).status, 200, 'and the circuit is closed again');
  } finally {
    await gw.close();
    await target.close();
  }
});

test("a retry the request's own failure refused by opening the circuit: the client gets that failure, 502, and the log says circuit_open", async () => {
  const targets = await Promise.all([startResetBeforeHead(), startResetBeforeHead()]);
  const gw = await startTestGateway(
    pool(
      targets.map((t) => t.url),
      '    outlier_detection: { consecutive_failures: 0 }\n    circuit_breaker: { consecutive_failures: 1, open_time: 10s }\n    retries: { attempts: 3 }\n',
    ),
  );
  try {
    const res = await request(gw.url, { headers: { 'x-request-id': 'opened-it' } });
    assert.equal(res.status, 502, "the reset its attempt met, not the circuit's 503");
    assert.equal(res.headers['retry-after'], undefined);
    assert.match(
      String(res.headers['proxy-status']),
      /^edge-1; error=connection_terminated; details="connection reset \(ECONNRESET\)[^"]*"; next-hop="app"$/,
    );
    const reached = targets.reduce((sum, t) => sum + t.received.length, 0);
    assert.equal(reached, 1, 'the retry was never made');
    const line = gw.logs.find((l) => l.msg === 'request' && l.client_req_id === 'opened-it');
    assert.deepEqual(
      [line?.status, line?.error, line?.stage, line?.attempts, line?.retry_skipped],
      [502, 'connection_terminated', 'sent', 1, 'circuit_open'],
    );
    const after = await request(gw.url);
    assert.equal(after.status, 503, 'a request after it meets the open circuit');
    assert.match(String(after.headers['proxy-status']), /^edge-1; error=destination_unavailable;/);
  } finally {
    await gw.close();
    await Promise.all(targets.map((t) => t.close()));
  }
});

test('a retry whose circuit others opened while it waited out its backoff: the client gets its own failure, 502, and the log says circuit_open', async () => {
  const targets = await Promise.all([startResetBeforeHead(), startResetBeforeHead()]);
  // The backoff is full jitter in [0, 4 s]: the first request's retry waits while the second
  // request's reset opens the circuit (two failures in a row), a few ms after it is sent. When
  // the jitter drew a wait shorter than that (about one time in 400) the retry was made first:
  // the scenario did not happen, and it is run again on a fresh gateway.
  try {
    for (let round = 1; ; round++) {
      const gw = await startTestGateway(
        pool(
          targets.map((t) => t.url),
          '    outlier_detection: { consecutive_failures: 0 }\n    circuit_breaker: { consecutive_failures: 2, open_time: 10s }\n    retries: { attempts: 3, backoff: { base: 4s, max: 4s } }\n    timeouts: { total: 30s }\n',
        ),
      );
      try {
        const reachedBefore = targets.reduce((sum, t) => sum + t.received.length, 0);
        const waiting = request(gw.url, { headers: { 'x-request-id': `waited-${round}` } });
        const budget = gw.gateway.runtime().upstreams.get('app')?.retryBudget;
        await waitUntil('the first request in its backoff', () => budget?.inFlight === 1);
        const opener = await request(gw.url, { headers: { 'x-request-id': `opener-${round}` } });
        const res = await waiting;
        const line = await gw.logFor(`waited-${round}`);
        if (line.attempts === 2 && round < 3) continue;
        assert.equal(
          opener.status,
          502,
          "the second request's own reset, its retry refused by the circuit it opened",
        );
        assert.equal(res.status, 502, "the reset its attempt met, not the circuit's 503");
        assert.equal(res.headers['retry-after'], undefined);
        assert.match(String(res.headers['proxy-status']), /^edge-1; error=connection_terminated; /);
        assert.deepEqual(
          [line.status, line.error, line.attempts, line.retry_skipped],
          [502, 'connection_terminated', 1, 'circuit_open'],
        );
        const reached = targets.reduce((sum, t) => sum + t.received.length, 0) - reachedBefore;
        assert.equal(reached, 2, 'one attempt each: the retry was never made');
        const { text } = await gw.gateway.metrics.exposition();
        assert.match(text, /^candor_retries_skipped_total\{upstream="app",why="circuit_open"\} 2$/m);
        assert.doesNotMatch(text, /^candor_retries_total\{/m, 'no retry was made');
        return;
      } finally {
        await gw.close();
      }
    }
  } finally {
    await Promise.all(targets.map((t) => t.close()));
  }
});

test('while the half-open probe is out, the others get 503 saying the circuit probes, and a Retry-After of its open time', async () => {
  // Resets every request until told to hold them: then answers each once released.
  let mode: 'reset' | 'hold' = 'reset';
  let release: () => void = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const target = await startRawFault(async (connection) => {
    for (;;) {
      await readRequest(connection);
      if (mode === 'reset') return connection.reset(0);
      await released;
      await connection.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    }
  });
  const gw = await startTestGateway(
    pool(
      [target.url],
      '    outlier_detection: { consecutive_failures: 0 }\n    circuit_breaker: { consecutive_failures: 2, open_time: 3s }\n    retries: { attempts: 1 }\n',
    ),
  );
  try {
    for (let i = 0; i < 2; i++) assert.equal((await request(gw.url)).status, 502);
    const open = await request(gw.url);
    assert.equal(open.status, 503);
    assert.equal(open.headers['retry-after'], '3');
    assert.match(
      String(open.headers['proxy-status']),
      /details="the circuit of \\"app\\" is open after repeated failures/,
    );
    // Its open time over, the next request is the probe, held by the upstream.
    const circuit = gw.gateway.runtime().upstreams.get('app')?.circuit;
    assert.ok(circuit);
    while (circuit.stateAt(performance.now()) === 'open')
      await new Promise((resolve) => setTimeout(resolve, 50));
    mode = 'hold';
    const probing = request(gw.url, { path: '/probe' });
    await target.waitForRequest(3);
    const meanwhile = await request(gw.url);
    assert.equal(meanwhile.status, 503);
    assert.equal(meanwhile.headers['retry-after'], '3');
    assert.match(
      String(meanwhile.headers['proxy-status']),
      /^edge-1; error=destination_unavailable; details="the circuit of \\"app\\" is half-open after repeated failures \(the last: connection_terminated, [0-9.]+ s ago\): its probe is under way"; next-hop="app"$/,
    );
    release();
    assert.equal((await probing).status, 200);
    assert.equal((await request(gw.url)).status, 200, 'the probe closed the circuit');
  } finally {
    release();
    await gw.close();
    await target.close();
  }
});

test('queue overflow answers 503 connection_limit_reached at once; a queue wait that expires does too', async () => {
  const slow = await startEcho();
  const gw = await startTestGateway(
    pool(
      [slow.url],
      '    pool: { max_connections: 1, max_pending: 1, queue_timeout: 300ms }\n    retries: { attempts: 1 }\n',
    ),
  );
  try {
    const held = request(gw.url, { path: '/?delay=1500' });
    await slow.waitForRequest(1);
    const queued = request(gw.url, { path: '/?delay=10', headers: { 'x-request-id': 'queued' } });
    await new Promise((resolve) => setTimeout(resolve, 50));
    let heldDone = false;
    held.then(() => {
      heldDone = true;
    });
    const overflow = await request(gw.url, { path: '/', headers: { 'x-request-id': 'overflow' } });
    assert.equal(overflow.status, 503);
    assert.equal(heldDone, false, 'answered while the held request was still in flight');
    assert.match(String(overflow.headers['proxy-status']), /error=connection_limit_reached/);
    assert.equal(overflow.headers['retry-after'], '1');
    const expired = await queued;
    assert.equal(expired.status, 503, 'the queued request gave up after queue_timeout');
    assert.match(String(expired.headers['proxy-status']), /error=connection_limit_reached/);
    assert.equal((await held).status, 200);
    assert.equal(slow.received.length, 1, 'neither refused request reached the upstream');
  } finally {
    await gw.close();
    await slow.close();
  }
});
