/**
 * Regressions found in review, each on real sockets: a Retry-After in asctime form read in
 * local time, a Retry-After that slipped past the retry budget, the response a call gives up
 * with after its deadline (its body must still be readable), an async onAttemptFailed hook
 * whose rejection must not crash the process, a URL's credentials in what the client reports,
 * an earlier attempt's failure given as the cause of a deadline.
 */
import assert from 'node:assert/strict';
import type http from 'node:http';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { retryAfterMs } from '../../../src/core/retry/retry-after.ts';
import { type AttemptReport, createFetch, UpstreamError } from '../../../src/kits/client/index.ts';
import { startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { startBlackhole } from '../../../src/kits/fault-kit/slow-faults.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';

test('Retry-After: every HTTP-date form is GMT whatever the local time zone; other text is ignored', () => {
  const tz = process.env.TZ;
  process.env.TZ = 'America/New_York';
  try {
    const now = Date.parse('Sun, 22 Nov 2026 12:00:00 GMT');
    assert.equal(retryAfterMs('Sun, 22 Nov 2026 12:00:03 GMT', now), 3000);
    assert.equal(retryAfterMs('Sunday, 22-Nov-26 12:00:03 GMT', now), 3000);
    assert.equal(
      retryAfterMs('Sun Nov 22 12:00:03 2026', now),
      3000,
      'asctime form (RFC 9110 §5.6.7) is GMT',
    );
    assert.equal(retryAfterMs('Sun Nov  1 12:00:03 2026', now), 0, 'asctime with a one-digit day, past');
    assert.equal(retryAfterMs('Mon 5', now), undefined, 'not an HTTP-date');
    assert.equal(retryAfterMs('Sun, 22 Nov 2026 12:00:03', now), undefined, 'no GMT');
    assert.equal(retryAfterMs('Sun, 22 Nov 2026 12:00:03 +0900', now), undefined, 'not GMT');
    assert.equal(retryAfterMs('Sun, 31 Nov 2026 12:00:03 GMT', now), undefined, 'no such day');
    assert.equal(
      retryAfterMs('9'.repeat(400), now),
      2 ** 31 * 1000,
      'delay-seconds beyond any clock: 2^31 s',
    );
  } finally {
    if (tz === undefined) delete process.env.TZ;
    else process.env.TZ = tz;
  }
});

test('a Retry-After: 0 (or on a 502/504, which pauses nothing) is charged to the retry budget', async () => {
  for (const [status, retryAfter] of [
    [502, '0'],
    [504, '1'],
    [503, '0'],
  ] as const) {
    let hits = 0;
    const upstream = await listenOnLoopback((_req, res) => {
      hits++;
      res.writeHead(status, { 'retry-after': retryAfter }).end();
    });
    try {
      const api = createFetch({
        attempts: 3,
        deadline: 10_000,
        budget: { ratio: 0.2, minPerSecond: 0 },
        circuitBreaker: false,
      });
      await Promise.all(
        Array.from({ length: 20 }, () => api(`${upstream.url}/`).then((r) => r.arrayBuffer())),
      );
      assert.ok(
        hits <= 24,
        `${status} Retry-After: ${retryAfter}: 20 calls sent ${hits} requests, the budget allows 24`,
      );
    } finally {
      await upstream.close();
    }
  }
});

test('a call that gives up at its deadline with a failed response gives a response whose body can be read', async () => {
  let first = true;
  const upstream = await listenOnLoopback((req, res) => {
    if (req.url === '/slow-502') {
      setTimeout(() => res.writeHead(502, { 'content-type': 'text/plain' }).end('the 502 body'), 1_300);
      return;
    }
    if (first) {
      first = false;
      res.writeHead(503, { 'retry-after': '1' }).end();
    }
    // the probe after the pause never answers
  });
  try {
    const api = createFetch({ deadline: 1_500, backoff: { base: 20, cap: 20 } });
    const slow = api(`${upstream.url}/slow-502`);
    // Another call pauses the origin and is alone to probe at 1.15 s: the probe hangs, and the
    // first call's retry (after its 502 at 1.3 s) waits behind it past its deadline.
    await new Promise((resolve) => setTimeout(resolve, 150));
    const pausing = api(`${upstream.url}/pause`).catch((error: unknown) => error);
    const res = await slow;
    assert.equal(res.status, 502);
    assert.equal(await res.text(), 'the 502 body');
    await pausing;
  } finally {
    await upstream.close();
  }
});

test('an async onAttemptFailed that rejects changes nothing (and does not crash the process)', async () => {
  let hits = 0;
  const upstream = await listenOnLoopback((_req, res) => {
    hits++;
    res.writeHead(hits === 1 ? 503 : 200).end('ok');
  });
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    const api = createFetch({
      onAttemptFailed: async () => {
        throw new Error('log sink down');
      },
    });
    const res = await api(`${upstream.url}/`);
    assert.equal(res.status, 200);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
    await upstream.close();
  }
});

test('a 503 with Retry-After: 0 pauses nothing: the next call is not made to wait behind a slow one as a probe', async () => {
  let first = true;
  const upstream = await listenOnLoopback((req, res) => {
    if (first) {
      first = false;
      res.writeHead(503, { 'retry-after': '0' }).end();
      return;
    }
    if (req.url === '/slow') setTimeout(() => res.end('slow'), 2_000);
    else res.end('fast');
  });
  try {
    const api = createFetch({ attempts: 1 });
    assert.equal((await api(`${upstream.url}/x`)).status, 503);
    const slow = api(`${upstream.url}/slow`);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const started = performance.now();
    const fast = await api(`${upstream.url}/fast`);
    assert.equal(await fast.text(), 'fast');
    assert.ok(
      performance.now() - started < 1_000,
      `/fast waited ${Math.round(performance.now() - started)} ms`,
    );
    await (await slow).text();
  } finally {
    await upstream.close();
  }
});

test('the state kept per origin is bounded: a client calling many distinct origins does not grow without end', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const api = createFetch({ fetch: (async () => new Response('ok')) as typeof fetch });
  await (await api('http://warm.example/')).text();
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < 20_000; i++) await (await api(`http://tenant-${i}.example/`)).text();
  gc();
  const grown = (process.memoryUsage().heapUsed - before) / 1024 / 1024;
  assert.ok(grown < 15, `20 000 origins left ${grown.toFixed(1)} MiB behind`);
  assert.equal((await api('http://warm.example/')).status, 200, 'the client still works');
});

test('a Retry-After far in the future pauses the origin for maxPause at most, not a day', async () => {
  let hits = 0;
  const upstream = await listenOnLoopback((_req, res) => {
    hits++;
    if (hits === 1) res.writeHead(503, { 'retry-after': '86400' }).end('later\n');
    else res.end('ok\n');
  });
  try {
    const api = createFetch({ attempts: 1, maxPause: 200, deadline: 5_000 });
    const first = await api(`${upstream.url}/a`);
    assert.equal(first.status, 503, 'the call that got the answer ends with it');
    await first.text();
    // Inside the (capped) pause the next call waits it out; then it goes, and the origin answers.
    const second = await api(`${upstream.url}/b`);
    assert.equal(second.status, 200);
    assert.equal(await second.text(), 'ok\n');
    assert.equal(hits, 2);
  } finally {
    await upstream.close();
  }
});

test('a hung origin opens the circuit: an attempt cut by the deadline after half of it counts as a failure', async () => {
  const hung = await startBlackhole();
  try {
    const api = createFetch({
      attempts: 1,
      deadline: 300,
      circuitBreaker: { failures: 2, openTime: 60_000 },
    });
    for (let i = 0; i < 2; i++)
      await assert.rejects(
        api(`${hung.url}/x`),
        (error: Error & { code?: string }) => error.code === 'UPSTREAM_DEADLINE',
      );
    // (fetch may open more than one connection for an attempt it aborts: count what the third adds.)
    const before = hung.connections;
    await assert.rejects(
      api(`${hung.url}/x`),
      (error: Error & { code?: string }) => error.code === 'UPSTREAM_CIRCUIT_OPEN',
    );
    assert.equal(hung.connections, before, 'the third call sent nothing');
  } finally {
    await hung.close();
  }
});

test("a Request's headers are replaced by init's when init has some, as fetch does", async () => {
  let seen: http.IncomingHttpHeaders = {};
  const upstream = await listenOnLoopback((req, res) => {
    seen = req.headers;
    res.end('ok\n');
  });
  try {
    const api = createFetch();
    const request = new Request(`${upstream.url}/h`, { headers: { 'x-from-request': '1' } });
    await (await api(request, { headers: { 'x-from-init': '1' } })).text();
    assert.equal(seen['x-from-init'], '1');
    assert.equal(seen['x-from-request'], undefined);
    await (await api(request)).text();
    assert.equal(seen['x-from-request'], '1', "without init's, the Request's go");
  } finally {
    await upstream.close();
  }
});

test('methods are normalized as fetch does: the six standard ones upper-cased, others sent as written', async () => {
  const seen: string[] = [];
  const upstream = await listenOnLoopback((req, res) => {
    seen.push(req.method ?? '');
    res.end('ok\n');
  });
  try {
    const api = createFetch();
    for (const method of ['post', 'PATCH'])
      await (await api(`${upstream.url}/m`, { method, body: 'x' })).text();
    await (await api(`${upstream.url}/m`, { method: 'delete' })).text();
    assert.deepEqual(seen, ['POST', 'PATCH', 'DELETE']);
  } finally {
    await upstream.close();
  }
});

test("a URL's credentials (user:password@) are in none of the client's reports and errors, nor in fetch's own refusal", async () => {
  const refused = await startRefusing();
  const { host } = new URL(refused.url);
  try {
    // What an app does with a credentialed URL: a fetch that turns its userinfo into Authorization.
    const seen: string[] = [];
    const basicAuth: typeof fetch = (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      seen.push(url.password);
      const headers = new Headers(init?.headers);
      headers.set('authorization', `Basic ${btoa(`${url.username}:${url.password}`)}`);
      url.username = '';
      url.password = '';
      return fetch(url, { ...init, headers });
    };
    const reports: AttemptReport[] = [];
    const api = createFetch({ fetch: basicAuth, onAttemptFailed: (r) => reports.push(r) });
    const error = await api(`http://app:s3cret@${host}/orders?page=2`).then(
      () => assert.fail('resolved'),
      (err: unknown) => err,
    );
    assert.deepEqual(seen, ['s3cret', 's3cret', 's3cret'], 'each attempt still gets the URL as given');
    assert.ok(error instanceof UpstreamError);
    assert.equal(error.code, 'UPSTREAM_UNREACHABLE');
    assert.equal(error.url, `http://${host}/orders?page=2`);
    assert.ok(error.message.startsWith(`GET http://${host}/orders?page=2: `), error.message);
    assert.deepEqual(
      reports.map((r) => r.url),
      Array(3).fill(`http://${host}/orders?page=2`),
    );
    // The global fetch refuses such a URL (the Fetch standard), quoting it whole.
    const refusal = await createFetch()(`http://app:s3cret@${host}/orders`).then(
      () => assert.fail('resolved'),
      (err: unknown) => err,
    );
    assert.ok(refusal instanceof TypeError);
    assert.equal(
      refusal.message,
      `Request cannot be constructed from a URL that includes credentials: http://${host}/orders`,
    );
    assert.ok(!String(refusal.stack).includes('s3cret'), 'nor in its stack');
  } finally {
    await refused.close();
  }
});

test("a call whose last attempt hung until the deadline does not give an earlier attempt's failure as its type and cause", async () => {
  // The first connection is reset once the request arrived (a GET goes again); the second never answers.
  let connections = 0;
  const origin = await startRawFault(async (connection) => {
    const first = ++connections === 1;
    await connection.nextRequest();
    if (first) await connection.reset(0);
  });
  try {
    const error = await createFetch({ deadline: 800, backoff: { base: 1, cap: 1 } })(`${origin.url}/`).then(
      () => assert.fail('resolved'),
      (err: unknown) => err,
    );
    assert.ok(error instanceof UpstreamError);
    assert.equal(error.code, 'UPSTREAM_DEADLINE');
    assert.deepEqual(
      error.attempts.map((a) => [a.type, a.reason]),
      [
        ['connection_terminated', 'idempotent'],
        [undefined, 'deadline'],
      ],
    );
    assert.equal(error.type, undefined, 'the last attempt got no answer at all: no type');
    assert.equal(error.cause, undefined, "the first attempt's reset is not why the call ended");
    assert.match(error.message, /\(2 attempts, no response within the deadline of 800 ms; not retried: /);
  } finally {
    await origin.close();
  }
});
