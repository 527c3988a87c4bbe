/** Matching nginx error-log attempts with their access-log requests. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AttemptMatcher } from '../../src/explain/attempt-matcher.ts';
import type { FailedAttempt, RequestLine } from '../../src/explain/log-record.ts';

const T = Date.UTC(2026, 0, 1);
const key = '10.0.0.1 GET /a HTTP/1.1';
const attempt = (time: number, failure: FailedAttempt['failure'], target = '10.0.0.5:80'): FailedAttempt => ({
  kind: 'attempt',
  time,
  failure,
  target,
  upstream: target,
  joinKey: key,
});
const request = (time: number, status: number): RequestLine => ({
  kind: 'request',
  time,
  status,
  joinKey: key,
});

test('a 502 takes the cause and the target of its last attempt; the earlier ones were retried', () => {
  const orphans: FailedAttempt[] = [];
  const matcher = new AttemptMatcher((a) => orphans.push(a));
  matcher.add(attempt(T, 'connection_refused', '10.0.0.5:80'));
  matcher.add(attempt(T, 'connection_terminated', '10.0.0.6:80'));
  const claimed = matcher.claim(request(T, 502));
  assert.equal(claimed.failure, 'connection_terminated');
  assert.equal(claimed.target, '10.0.0.6:80');
  assert.deepEqual(
    orphans.map((o) => o.failure),
    ['connection_refused'],
  );
  assert.equal(matcher.size, 2);
  matcher.expire(T + 10_000);
  assert.equal(orphans.length, 1, 'a claimed attempt is not handed back again');
  assert.equal(matcher.size, 0);
});

test('a 200 after a retry does not take the failure of the attempt that was retried', () => {
  const orphans: FailedAttempt[] = [];
  const matcher = new AttemptMatcher((a) => orphans.push(a));
  matcher.add(attempt(T, 'connection_refused'));
  assert.equal(matcher.claim(request(T, 200)).failure, undefined);
  matcher.expire(T + 1000);
  assert.equal(orphans.length, 0, 'still inside the window');
  matcher.expire(T + 2001);
  assert.deepEqual(
    orphans.map((o) => o.failure),
    ['connection_refused'],
  );
});

test('a 200 does take a failure that came after the head (the body was cut)', () => {
  const matcher = new AttemptMatcher(() => assert.fail('no orphan'));
  matcher.add(attempt(T, 'http_response_incomplete'));
  assert.equal(matcher.claim(request(T + 1000, 200)).failure, 'http_response_incomplete');
});
