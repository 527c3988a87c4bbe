/** The deploy timeline's ring: bounded (the newest kept), oldest first, `since`; and several processes' rings merged by time. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventRing, mergeEvents } from '../../../src/observe/events/event-ring.ts';
import type { RecordedEvent } from '../../../src/observe/events/gateway-event.ts';

const health = (second: number, target: string): RecordedEvent => ({
  kind: 'health',
  id: second,
  at: new Date(Date.UTC(2026, 10, 23, 10, 0, second)).toISOString(),
  upstream: 'api',
  target,
  state: 'unhealthy',
});

test('a full ring keeps the newest events, oldest first', () => {
  const ring = new EventRing(3);
  for (let second = 0; second < 5; second++) ring.push(health(second, `http://t${second}:80`));
  assert.deepEqual(
    ring.list().map((e) => (e as { target: string }).target),
    ['http://t2:80', 'http://t3:80', 'http://t4:80'],
  );
  const since = Date.UTC(2026, 10, 23, 10, 0, 3);
  assert.deepEqual(
    ring.list(since).map((e) => (e as { target: string }).target),
    ['http://t4:80'],
    'since: strictly after',
  );
});

test("processes' events merge by time, the newest kept", () => {
  const primary = [health(1, 'a'), health(4, 'd')];
  const worker = [health(2, 'b'), health(3, 'c')];
  assert.deepEqual(
    mergeEvents([primary, worker]).map((e) => (e as { target: string }).target),
    ['a', 'b', 'c', 'd'],
  );
  assert.deepEqual(
    mergeEvents([primary, worker], 2).map((e) => (e as { target: string }).target),
    ['c', 'd'],
  );
});
