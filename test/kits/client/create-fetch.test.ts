/**
 * candor/client's fetch straight against real upstreams on loopback: Retry-After in both
 * forms and against the deadline, the caller's abort, the deadline, a stream body that
 * cannot go twice, untyped statuses, propagation headers, and options checked up front.
 */
import assert from 'node:assert/strict';
import type http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { retryAfterMs } from '../../../src/core/retry/retry-after.ts';
import {
  type AttemptReport,
  createFetch,
  runWithPropagation,
  UpstreamError,
} from '../../../src/kits/client/index.ts';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startBlackhole } from '../../../src/kits/fault-kit/slow-faults.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';

/** An upstream answering its nth request (1-based) as `answer` says, recording each arrival. */
interface Scripted {
  readonly url: string;
  readonly arrivals: { at: number; method: string; headers: http.IncomingHttpHeaders }[];
  close(): Promise<void>;
}

async function startScripted(
  answer: (n: number) => { status: number; headers?: Record<string, string> },
): Promise<Scripted> {
  const arrivals: Scripted['arrivals'] = [];
  const { url, close } = await listenOnLoopback((req, res) => {
    arrivals.push({ at: Date.now(), method: req.method ?? '', headers: req.headers });
    const { status, headers } = answer(arrivals.length);
    req.resume();
    req.on('end', () =>
      res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end(`answer ${arrivals.length}\n`),
    );
  });
  return { url, arrivals, close };
}

let echo: Fault;
let hang: Fault;
let refused: Fault;

before(async () => {
  [echo, hang, refused] = await Promise.all([startEcho(), startBlackhole(), startRefusing()]);
});

after(async () => {
  await Promise.all([echo?.close(), hang?.close(), refused?.close()]);
});

describe('Retry-After', () => {
  test('reads delay-seconds and an HTTP-date; a date past is no wait; anything else is ignored', () => {
    const now = Date.parse('Sun, 22 Nov 2026 12:00:00 GMT');
    assert.equal(retryAfterMs('120', now), 120_000);
    assert.equal(retryAfterMs(' 0 ', now), 0);
    assert.equal(retryAfterMs('Sun, 22 Nov 2026 12:00:03 GMT', now), 3000);
    assert.equal(retryAfterMs('Sunday, 22-Nov-26 12:00:03 GMT', now), 3000, 'RFC 850 form');
    assert.equal(retryAfterMs('Sun, 22 Nov 2026 11:00:00 GMT', now), 0);
    assert.equal(retryAfterMs('-1', now), undefined);
    assert.equal(retryAfterMs('1.5', now), undefined);
    assert.equal(retryAfterMs('soon', now), undefined);
    assert.equal(retryAfterMs(null, now), undefined);
  });

  test('an HTTP-date is honoured: the retry does not arrive before it', async () => {
    let date = 0;
    const upstream = await startScripted((n) => {
      if (n > 1) return { status: 200 };
      date = (Math.floor(Date.now() / 1000) + 2) * 1000;
      return { status: 503, headers: { 'retry-after': new Date(date).toUTCString() } };
    });
    try {
      const reports: AttemptReport[] = [];
      const res = await createFetch({ onAttemptFailed: (r) => reports.push(r) })(`${upstream.url}/date`);
      assert.equal(res.status, 200);
      assert.equal(upstream.arrivals.length, 2);
      // Date.now() and the monotonic clock the client waits on may differ by the millisecond Date.now() rounds off.
      assert.ok(upstream.arrivals[1].at >= date - 1, 'the retry came after the announced date');
      assert.equal(reports[0].reason, 'idempotent');
      assert.ok(reports[0].retryAfterMs !== undefined && reports[0].retryAfterMs > 0);
    } finally {
      await upstream.close();
    }
  });

  test('a Retry-After past the deadline fails at once with the 503, and pauses the origin for the next call too', async () => {
    const upstream = await startScripted(() => ({ status: 503, headers: { 'retry-after': '60' } }));
    try {
      const reports: AttemptReport[] = [];
      const api = createFetch({ deadline: 2000, onAttemptFailed: (r) => reports.push(r) });
      const res = await api(`${upstream.url}/later`);
      assert.equal(res.status, 503);
      assert.equal(await res.text(), 'answer 1\n', 'the response is the caller’s, its body unread');
      assert.equal(upstream.arrivals.length, 1);
      assert.deepEqual(
        reports.map((r) => [r.retry, r.reason, r.retryAfterMs]),
        [[false, 'retry_after_past_deadline', 60_000]],
      );
      // The next call of the same client would have to wait past its own deadline: it fails now, sending nothing.
      const next = await api(`${upstream.url}/other`).then(
        () => assert.fail('resolved'),
        (error: unknown) => error,
      );
      assert.ok(next instanceof UpstreamError);
      assert.equal(next.code, 'UPSTREAM_DEADLINE');
      assert.equal(next.attempts.length, 0);
      assert.match(next.message, /asked for a pause \(Retry-After\)/);
      assert.equal(upstream.arrivals.length, 1);
    } finally {
      await upstream.close();
    }
  });
});

describe('what is not retried', () => {
  test('with the defaults, a Retry-After past maxPause is told as that, not as the deadline it is past too', async () => {
    const upstream = await startScripted(() => ({ status: 503, headers: { 'retry-after': '70' } }));
    try {
      const reports: AttemptReport[] = [];
      const res = await createFetch({ onAttemptFailed: (r) => reports.push(r) })(`${upstream.url}/later`);
      assert.equal(res.status, 503);
      assert.equal(upstream.arrivals.length, 1);
      assert.deepEqual(
        reports.map((r) => [r.retry, r.reason, r.retryAfterMs]),
        [[false, 'retry_after_past_max_pause', 70_000]],
      );
    } finally {
      await upstream.close();
    }
  });

  test('a POST that met the origin’s own 503 (no Proxy-Status) may have been processed: it goes once', async () => {
    const upstream = await startScripted(() => ({ status: 503 }));
    try {
      const reports: AttemptReport[] = [];
      const res = await createFetch({ onAttemptFailed: (r) => reports.push(r) })(upstream.url, {
        method: 'POST',
        body: 'x',
      });
      assert.equal(res.status, 503);
      assert.equal(upstream.arrivals.length, 1);
      assert.equal(reports[0].reason, 'not_idempotent');
      assert.equal(reports[0].type, undefined);
    } finally {
      await upstream.close();
    }
  });

  test('a 500 is not retried, even for a GET; a 404 is no failed attempt at all', async () => {
    const upstream = await startScripted((n) => ({ status: n === 1 ? 500 : 404 }));
    try {
      const reports: AttemptReport[] = [];
      const api = createFetch({ onAttemptFailed: (r) => reports.push(r) });
      assert.equal((await api(upstream.url)).status, 500);
      assert.equal((await api(upstream.url)).status, 404);
      assert.equal(upstream.arrivals.length, 2);
      assert.deepEqual(
        reports.map((r) => [r.status, r.reason]),
        [[500, 'not_retryable']],
      );
    } finally {
      await upstream.close();
    }
  });

  test('a stream body to a refused port is sent once; the error says the body could not go again', async () => {
    const error = await createFetch()(refused.url, {
      method: 'POST',
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('once'));
          controller.close();
        },
      }),
    }).then(
      () => assert.fail('resolved'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof UpstreamError);
    assert.equal(error.name, 'UpstreamError');
    assert.equal(error.code, 'UPSTREAM_UNREACHABLE');
    assert.equal(error.type, 'connection_refused');
    assert.equal(error.attempts.length, 1);
    assert.match(
      error.message,
      /not retried: the request body is a stream this attempt consumed: it cannot be sent again/,
    );
  });

  test('a body function that returns a promise (an async one) is refused before anything is sent, not sent as "[object Promise]"', async () => {
    const before = echo.received.length;
    const body = (async () => 'payload') as unknown as () => string;
    await assert.rejects(createFetch()(`${echo.url}/async-body`, { method: 'POST', body }), {
      name: 'TypeError',
      message: /a body function must return a body, not a promise of one/,
    });
    assert.equal(echo.received.length, before, 'nothing reached the upstream');
  });

  test('a GET to a refused port is retried (nothing was sent), then fails with every attempt in the error', async () => {
    const error = await createFetch({ backoff: { base: 5, cap: 10 } })(refused.url).then(
      () => assert.fail('resolved'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof UpstreamError);
    assert.deepEqual(
      error.attempts.map((a) => [a.attempt, a.type, a.reason]),
      [
        [1, 'connection_refused', 'not_sent'],
        [2, 'connection_refused', 'not_sent'],
        [3, 'connection_refused', 'attempts'],
      ],
    );
    assert.match(
      error.message,
      /^GET http:\/\/127\.0\.0\.1:\d+\/: the last attempt got no response: .*\(3 attempts, connection_refused: connection refused \(ECONNREFUSED\)/,
    );
  });
});

describe('abort and deadline', () => {
  test('the caller’s abort ends the call at once with its own reason, mid-attempt', async () => {
    const before = hang.received.length;
    const controller = new AbortController();
    const reason = new Error('the user went away');
    const pending = createFetch()(`${hang.url}/wait`, { signal: controller.signal });
    await hang.waitForRequest(before + 1);
    controller.abort(reason);
    await assert.rejects(pending, (error) => error === reason);
    assert.equal(hang.received.length, before + 1);
  });

  test('the caller’s abort ends a wait between attempts too', async () => {
    const controller = new AbortController();
    const api = createFetch({
      backoff: { base: 60_000, cap: 60_000 },
      onAttemptFailed: () => controller.abort(new Error('stop')),
    });
    await assert.rejects(api(refused.url, { signal: controller.signal }), { message: 'stop' });
  });

  test('an already aborted signal sends nothing', async () => {
    const before = echo.received.length;
    await assert.rejects(createFetch()(echo.url, { signal: AbortSignal.abort(new Error('never')) }), {
      message: 'never',
    });
    assert.equal(echo.received.length, before);
  });

  test('the deadline ends a hung attempt with UPSTREAM_DEADLINE and reports it', async () => {
    const reports: AttemptReport[] = [];
    const error = await createFetch({ deadline: 300, onAttemptFailed: (r) => reports.push(r) })(
      `${hang.url}/slow`,
    ).then(
      () => assert.fail('resolved'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof UpstreamError);
    assert.equal(error.code, 'UPSTREAM_DEADLINE');
    assert.deepEqual(
      reports.map((r) => [r.attempt, r.status, r.reason]),
      [[1, undefined, 'deadline']],
    );
  });
});

describe('propagation', () => {
  test('inside runWithPropagation every call carries x-request-id, traceparent and tracestate', async () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const api = createFetch();
    const before = echo.received.length;
    await runWithPropagation({ requestId: 'req-7', traceparent, tracestate: 'candor=1' }, async () => {
      await (await api(`${echo.url}/a`)).arrayBuffer();
      // The caller's own id wins.
      await (await api(`${echo.url}/b`, { headers: { 'x-request-id': 'mine' } })).arrayBuffer();
    });
    await (await api(`${echo.url}/c`)).arrayBuffer();
    const [a, b, c] = echo.received.slice(before);
    assert.equal(a.headers['x-request-id'], 'req-7');
    assert.equal(a.headers.traceparent, traceparent);
    assert.equal(a.headers.tracestate, 'candor=1');
    assert.equal(b.headers['x-request-id'], 'mine');
    assert.equal(b.headers.traceparent, traceparent);
    assert.equal(c.headers['x-request-id'], undefined, 'outside a request, nothing is added');
    assert.equal(c.headers.traceparent, undefined);
  });

  test('a Request as input keeps its method, headers and body, and is assignable to typeof fetch', async () => {
    const api: typeof fetch = createFetch();
    const before = echo.received.length;
    const res = await api(
      new Request(`${echo.url}/req`, { method: 'PUT', body: 'hello', headers: { 'x-a': '1' } }),
    );
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    const seen = echo.received[before];
    assert.equal(seen.method, 'PUT');
    assert.equal(seen.headers['x-a'], '1');
    assert.equal(seen.bodyLength, 5);
  });

  test('a URL that does not parse is a rejected promise, as with fetch, never a throw at the call', async () => {
    const api = createFetch();
    let call: Promise<Response> | undefined;
    assert.doesNotThrow(() => {
      call = api('/relative');
    });
    await assert.rejects(call as Promise<Response>, { name: 'TypeError', message: 'Invalid URL' });
  });
});

describe('options', () => {
  test('a bad option is a TypeError or RangeError naming it', () => {
    assert.throws(() => createFetch({ attempts: 0 }), {
      name: 'RangeError',
      message: 'createFetch: options.attempts must be an integer from 1 to 100, got 0',
    });
    assert.throws(() => createFetch({ deadline: Number.NaN }), {
      name: 'TypeError',
      message: /options\.deadline/,
    });
    assert.throws(() => createFetch({ backoff: { base: 500, cap: 100 } }), {
      name: 'RangeError',
      message: /backoff\.cap/,
    });
    assert.throws(() => createFetch({ budget: 'lots' as never }), {
      name: 'TypeError',
      message: /options\.budget/,
    });
    assert.throws(() => createFetch({ circuitBreaker: { failures: 1.5 } }), { name: 'RangeError' });
    assert.throws(() => createFetch({ onAttemptFailed: 'log' as never }), { name: 'TypeError' });
  });

  test('an option it does not read is a TypeError naming it, not ignored (plain JavaScript has no type check)', () => {
    // `retries: 0`, meant to send no retry, ran three attempts without a word.
    assert.throws(() => createFetch({ retries: 0 } as never), {
      name: 'TypeError',
      message:
        "createFetch: options has no option 'retries' (attempts counts the tries in all, the first among them: attempts: 1 sends no retry)",
    });
    assert.throws(() => createFetch({ attempt: 2 } as never), {
      name: 'TypeError',
      message: "createFetch: options has no option 'attempt' (did you mean 'attempts'?)",
    });
    assert.throws(() => createFetch({ backoff: { maximum: 100 } } as never), {
      name: 'TypeError',
      message: "createFetch: options.backoff has no option 'maximum' (it takes base, cap)",
    });
    assert.throws(() => createFetch({ circuitBreaker: { failure: 3 } } as never), {
      name: 'TypeError',
      message: "createFetch: options.circuitBreaker has no option 'failure' (did you mean 'failures'?)",
    });
    assert.doesNotThrow(() =>
      createFetch({ attempts: 1, backoff: { base: 1 }, budget: false, circuitBreaker: { openTime: 10 } }),
    );
  });
});

test('idempotencyKey: every method that is not idempotent gets a key (POST, PATCH, a LOCK), the idempotent ones none', async () => {
  const keys = new Map<string, string | undefined>();
  const origin = await listenOnLoopback((req, res) => {
    keys.set(req.method ?? '', req.headers['idempotency-key'] as string | undefined);
    res.end();
  });
  try {
    const api = createFetch({ idempotencyKey: true });
    for (const method of ['POST', 'PATCH', 'LOCK', 'GET', 'PUT', 'DELETE', 'OPTIONS'])
      await (await api(`${origin.url}/x`, { method })).arrayBuffer();
    const keyed = [...keys].filter(([, key]) => key !== undefined).map(([method]) => method);
    assert.deepEqual(keyed, ['POST', 'PATCH', 'LOCK']);
  } finally {
    await origin.close();
  }
});
