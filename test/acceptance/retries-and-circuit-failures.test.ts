/**
 * Acceptance cases for the gateway's decisions around a failing upstream, from DESIGN.md's
 * rules: a retry only where it is safe (never after a response head, never a non-idempotent
 * request that reached the upstream, never past the budget), the circuit told as a 503 with
 * Retry-After, timeouts as 504 without one, a full pool as 503 with one. Real upstreams on
 * loopback misbehave; each case checks the answer, the one log line and what each target got.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assertGatewayError, onlyLogLine } from '../helpers/gateway-error.ts';
import { request } from '../helpers/http-client.ts';
import { scriptedRoute } from '../helpers/scripted-route.ts';
import type { Script } from '../helpers/scripted-upstream.ts';
import { freePort } from '../helpers/wait.ts';

const GOOD = 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ngood';
const answerGood: Script = (s) => s.write(GOOD);

const { upstreamOf, gatewayTo } = scriptedRoute();

describe('retries', () => {
  test('a reset after part of the body is never retried: the 200 is cut, the second target never asked', async () => {
    const first = await upstreamOf((s) => {
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhalf');
      setTimeout(() => s.resetAndDestroy(), 20);
    });
    const second = await upstreamOf(answerGood);
    const gw = await gatewayTo([first.url, second.url], '    retries: { attempts: 3 }');
    const res = await request(gw.url);
    assert.equal(res.status, 200);
    assert.equal(res.aborted, true);
    assert.equal(res.text, 'half');
    assert.equal(second.requests.length, 0, 'nothing after a response head is retried');
    const line = await onlyLogLine(gw, res.headers['x-request-id'] as string);
    assert.equal(line.error, 'http_response_incomplete');
    assert.equal(line.attempts, 1);
    assert.equal(line.target, first.url);
    assert.equal(line.upstream_reset, true);
  });

  test('a reset before the head of a GET goes to the other target, and the log tells both tries', async () => {
    const first = await upstreamOf((s) => s.resetAndDestroy());
    const second = await upstreamOf(answerGood);
    const gw = await gatewayTo([first.url, second.url], '    retries: { attempts: 3 }');
    const res = await request(gw.url);
    assert.equal(res.status, 200);
    assert.equal(res.text, 'good');
    assert.equal(res.headers['proxy-status'], undefined, 'a retried success says nothing of the failure');
    assert.equal(first.requests.length, 1);
    assert.equal(second.requests.length, 1);
    const line = await onlyLogLine(gw, res.headers['x-request-id'] as string);
    assert.equal(line.status, 200);
    assert.equal(line.attempts, 2);
    assert.equal(line.target, second.url);
    const tries = line.tries as { target: string; error?: string; status?: number }[];
    assert.deepEqual(
      tries.map((t) => [t.target, t.error ?? t.status]),
      [
        [first.url, 'connection_terminated'],
        [second.url, 200],
      ],
    );
  });

  test('with the budget spent (ratio 0, no floor), the same reset is answered 502 and not retried', async () => {
    const first = await upstreamOf((s) => s.resetAndDestroy());
    const second = await upstreamOf(answerGood);
    const gw = await gatewayTo(
      [first.url, second.url],
      '    retries: { attempts: 3, budget: { ratio: 0, min_concurrent: 0, min_per_second: 0 } }',
    );
    const res = await request(gw.url, { headers: { accept: 'application/problem+json' } });
    const id = assertGatewayError(res, {
      status: 502,
      error: 'connection_terminated',
      details: /reset/,
      nextHop: 'app',
      retryAfter: null,
      format: 'problem+json',
    });
    assert.equal(second.requests.length, 0, 'the budget held the retry back');
    const line = await onlyLogLine(gw, id);
    assert.equal(line.error, 'connection_terminated');
    assert.equal(line.shape, 'reset');
    assert.equal(line.retry_skipped, 'budget');
    assert.equal(line.attempts, 1);
  });

  test('a POST the upstream took and then reset on is not sent again', async () => {
    const first = await upstreamOf((s) => s.resetAndDestroy());
    const second = await upstreamOf(answerGood);
    const gw = await gatewayTo([first.url, second.url], '    retries: { attempts: 3 }');
    const res = await request(gw.url, { method: 'POST', body: 'order=1', headers: { accept: 'text/html' } });
    const id = assertGatewayError(res, {
      status: 502,
      error: 'connection_terminated',
      nextHop: 'app',
      retryAfter: null,
      format: 'html',
    });
    assert.equal(first.requests.length, 1);
    assert.equal(second.requests.length, 0, 'a POST that reached the upstream is never sent twice');
    const line = await onlyLogLine(gw, id);
    assert.equal(line.retry_skipped, 'not_idempotent');
    assert.equal(line.stage, 'sent');
  });

  test('a POST refused at connect never reached anyone, so it goes to the other target', async () => {
    const refused = `http://127.0.0.1:${await freePort()}`;
    const second = await upstreamOf(answerGood);
    const gw = await gatewayTo([refused, second.url], '    retries: { attempts: 2 }');
    const res = await request(gw.url, { method: 'POST', body: 'order=1' });
    assert.equal(res.status, 200);
    assert.equal(second.requests.length, 1);
    const line = await onlyLogLine(gw, res.headers['x-request-id'] as string);
    assert.equal(line.attempts, 2);
    assert.equal((line.tries as { error?: string }[])[0].error, 'connection_refused');
  });
});

describe('the circuit', () => {
  for (const method of ['GET', 'HEAD']) {
    test(`${method}: open after the failures in a row, it answers 503 destination_unavailable with Retry-After, nothing sent`, async () => {
      const failing = await upstreamOf((s) => s.resetAndDestroy());
      const gw = await gatewayTo(
        [failing.url],
        '    retries: { attempts: 1 }\n    circuit_breaker: { consecutive_failures: 2, open_time: 30s }',
      );
      for (let i = 0; i < 2; i++) assert.equal((await request(gw.url)).status, 502);
      const connectionsBefore = failing.connections();
      const res = await request(gw.url, { method, headers: { accept: 'application/json' } });
      const id = assertGatewayError(res, {
        status: 503,
        error: 'destination_unavailable',
        details: /circuit of "app" is open.*connection_terminated/,
        nextHop: 'app',
        format: 'problem+json',
        head: method === 'HEAD',
      });
      const retryAfter = Number(res.headers['retry-after']);
      assert.ok(
        Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 30,
        `Retry-After ${res.headers['retry-after']}`,
      );
      assert.equal(failing.connections(), connectionsBefore, 'an open circuit sends nothing');
      const line = await onlyLogLine(gw, id);
      assert.equal(line.status, 503);
      assert.equal(line.error, 'destination_unavailable');
      assert.equal(line.shape, 'gateway');
      assert.equal(line.attempts, 0);
      assert.equal(line.upstream, 'app');
      assert.equal(line.target, undefined, 'no target was chosen');
    });
  }
});

describe('the circuit counts bodies cut short, as ejection does', () => {
  // Outlier detection off: the circuit is the upstream's only breaker.
  const POLICY =
    '    retries: { attempts: 1 }\n    outlier_detection: { consecutive_failures: 0 }\n    circuit_breaker: { consecutive_failures: 2, open_time: 30s }';

  test('an upstream that breaks every body after a good head opens the circuit', async () => {
    const breaking = await upstreamOf((s) => {
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhalf');
      setTimeout(() => s.resetAndDestroy(), 20);
    });
    const gw = await gatewayTo([breaking.url], POLICY);
    for (let i = 0; i < 2; i++) {
      const cut = await request(gw.url);
      assert.equal(cut.status, 200);
      assert.equal(cut.aborted, true);
    }
    const res = await request(gw.url, { headers: { accept: 'application/problem+json' } });
    const id = assertGatewayError(res, {
      status: 503,
      error: 'destination_unavailable',
      details: /circuit of "app" is open.*http_response_incomplete/,
      nextHop: 'app',
      format: 'problem+json',
    });
    assert.equal(breaking.requests.length, 2, 'the open circuit sent nothing more');
    assert.equal((await onlyLogLine(gw, id)).attempts, 0);
  });

  test('a body that comes whole ends the run of failures', async () => {
    let n = 0;
    const flaky = await upstreamOf((s) => {
      // cut, whole, cut, whole…: never two failures in a row.
      if (n++ % 2 === 0) {
        s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhalf');
        setTimeout(() => s.resetAndDestroy(), 20);
      } else s.write(GOOD);
    });
    const gw = await gatewayTo([flaky.url], POLICY);
    for (let i = 0; i < 5; i++) await request(gw.url);
    const res = await request(gw.url);
    assert.equal(res.status, 200, 'the circuit stayed closed');
    assert.equal(flaky.requests.length, 6);
  });
});

describe('waits', () => {
  for (const method of ['GET', 'HEAD']) {
    test(`${method}: no head in time is 504 http_response_timeout, without Retry-After`, async () => {
      const silent = await upstreamOf(() => {});
      const gw = await gatewayTo(
        [silent.url],
        '    retries: { attempts: 1 }\n    timeouts: { response: 200ms }',
      );
      const res = await request(gw.url, { method, headers: { accept: 'text/plain' } });
      const id = assertGatewayError(res, {
        status: 504,
        error: 'http_response_timeout',
        nextHop: 'app',
        retryAfter: null,
        format: 'text',
        head: method === 'HEAD',
      });
      const line = await onlyLogLine(gw, id);
      assert.equal(line.error, 'http_response_timeout');
      assert.equal(line.shape, 'slow');
    });
  }

  test('a full pool with no queue is 503 connection_limit_reached with Retry-After; the upstream is not blamed', async () => {
    let release: (() => void) | undefined;
    const slow = await upstreamOf((s) => {
      release = () => s.write(GOOD);
    });
    const gw = await gatewayTo(
      [slow.url],
      '    retries: { attempts: 1 }\n    pool: { max_connections: 1, max_pending: 0 }',
    );
    const first = request(gw.url, { path: '/held' });
    // Wait for the first request to hold the only connection.
    while (slow.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const res = await request(gw.url, { path: '/second', headers: { accept: 'text/html' } });
    const id = assertGatewayError(res, {
      status: 503,
      error: 'connection_limit_reached',
      nextHop: 'app',
      format: 'html',
    });
    assert.match(String(res.headers['retry-after']), /^[1-9]\d*$/);
    assert.equal(slow.requests.length, 1, 'the second request was not sent');
    release?.();
    assert.equal((await first).status, 200);
    const line = await onlyLogLine(gw, id);
    assert.equal(line.error, 'connection_limit_reached');
    assert.equal(line.shape, 'gateway');
  });
});
