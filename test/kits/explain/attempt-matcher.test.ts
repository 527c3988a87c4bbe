/** Matching nginx error-log attempts with their access-log requests. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AttemptMatcher } from '../../../src/kits/explain/attempt-matcher.ts';
import type { FailedAttempt, RequestLine } from '../../../src/kits/explain/log-record.ts';

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

test('a 502 of two attempts takes the cause and the target of its last; the earlier one was retried', () => {
  const orphans: FailedAttempt[] = [];
  const matcher = new AttemptMatcher((a) => orphans.push(a));
  matcher.add(attempt(T, 'connection_refused', '10.0.0.5:80'));
  matcher.add(attempt(T, 'connection_terminated', '10.0.0.6:80'));
  const claimed = matcher.claim({ ...request(T, 502), attempts: 2 });
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

test('a burst of identical failing requests within one second: each takes its own attempt, in order', () => {
  const orphans: FailedAttempt[] = [];
  const matcher = new AttemptMatcher((a) => orphans.push(a));
  matcher.add(attempt(T, 'connection_refused'));
  matcher.add(attempt(T, 'connection_timeout'));
  matcher.add(attempt(T, 'connection_terminated'));
  const claimed = [502, 504, 502].map((status) => matcher.claim(request(T, status)));
  assert.deepEqual(
    claimed.map((r) => [r.failure, r.producedBy]),
    [
      ['connection_refused', 'proxy'],
      ['connection_timeout', 'proxy'],
      ['connection_terminated', 'proxy'],
    ],
  );
  matcher.expire();
  assert.deepEqual(orphans, [], 'no attempt is left over to be counted as a retry');
});

test('a request whose line says it made two attempts takes two: the first was retried', () => {
  const orphans: FailedAttempt[] = [];
  const matcher = new AttemptMatcher((a) => orphans.push(a));
  matcher.add(attempt(T, 'connection_refused', '10.0.0.5:80'));
  matcher.add(attempt(T, 'connection_terminated', '10.0.0.6:80'));
  matcher.add(attempt(T, 'connection_refused', '10.0.0.5:80'));
  const first = matcher.claim({ ...request(T, 502), attempts: 2 });
  assert.equal(first.failure, 'connection_terminated');
  assert.deepEqual(
    orphans.map((o) => o.target),
    ['10.0.0.5:80'],
  );
  const second = matcher.claim(request(T, 502));
  assert.equal(second.failure, 'connection_refused');
  matcher.expire();
  assert.equal(orphans.length, 1);
});

test('a 200 after two attempts takes the one that failed as retried, and stays a 200', () => {
  const orphans: FailedAttempt[] = [];
  const matcher = new AttemptMatcher((a) => orphans.push(a));
  matcher.add(attempt(T, 'connection_refused'));
  const answered = matcher.claim({ ...request(T, 200), attempts: 2 });
  assert.equal(answered.failure, undefined);
  assert.equal(orphans.length, 1, 'counted at once as a failed attempt');
  matcher.expire();
  assert.equal(orphans.length, 1);
});

test('interleaved requests from several clients each take their own client’s attempts', () => {
  const orphans: FailedAttempt[] = [];
  const matcher = new AttemptMatcher((a) => orphans.push(a));
  const from = (client: string, failure: FailedAttempt['failure']): FailedAttempt => ({
    ...attempt(T, failure),
    joinKey: `${client} GET /a HTTP/1.1`,
  });
  const of = (client: string, status: number): RequestLine => ({
    ...request(T, status),
    joinKey: `${client} GET /a HTTP/1.1`,
  });
  matcher.add(from('10.0.0.1', 'connection_refused'));
  matcher.add(from('10.0.0.2', 'connection_timeout'));
  matcher.add(from('10.0.0.1', 'connection_terminated'));
  assert.equal(matcher.claim(of('10.0.0.2', 504)).failure, 'connection_timeout');
  assert.equal(matcher.claim(of('10.0.0.1', 502)).failure, 'connection_refused');
  assert.equal(matcher.claim(of('10.0.0.3', 502)).failure, undefined, 'a client with no attempt');
  assert.equal(matcher.claim(of('10.0.0.1', 502)).failure, 'connection_terminated');
  matcher.expire();
  assert.deepEqual(orphans, []);
});

test('a request id joins before client and request line do', () => {
  const orphans: FailedAttempt[] = [];
  const matcher = new AttemptMatcher((a) => orphans.push(a));
  matcher.add({ ...attempt(T, 'connection_refused'), requestId: 'r1' });
  matcher.add({ ...attempt(T, 'connection_timeout'), requestId: 'r2' });
  assert.equal(matcher.claim({ ...request(T, 504), requestId: 'r2' }).failure, 'connection_timeout');
  assert.equal(matcher.claim({ ...request(T, 502), requestId: 'r3' }).failure, undefined);
  assert.equal(matcher.claim({ ...request(T, 502), requestId: 'r1' }).failure, 'connection_refused');
  matcher.expire();
  assert.deepEqual(orphans, []);
});
