/**
 * A config canary's looks (canary-judge.ts), fed records as etcd would hold them: judged from
 * the look that finds every canary gateway running it; each gateway's total taken as what it has more since the
 * last look (a new process from zero); worse rolls back at that look with the one line; a
 * canary gateway gone, restarted or refusing fails it; held to the end, promoted. And each
 * gateway's own count (GatewayWindow) of every attempt, whatever its upstream, and of every
 * request it answered with its own 500 (gateway_error, judged like the others; an older
 * gateway's total without it read as none).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Failure } from '../../../src/core/failure/failure.ts';
import { CanaryJudge } from '../../../src/server/fleet/canary-judge.ts';
import type { Canary, CountsRecord, GatewayRecord } from '../../../src/server/fleet/fleet-keys.ts';
import { emptySide, GatewayWindow, type SideCounts } from '../../../src/upstream/canary/canary-window.ts';
import { bucketOf } from '../../../src/upstream/canary/latency-tally.ts';

const CANARY: Canary = {
  author: 'alice',
  at: '2026-11-25T20:00:00.000Z',
  from: 10,
  revision: 12,
  modRevision: 12,
  document: 'routes: []\n',
  gateways: ['gw-a'],
  window_ms: 1000,
  judge_for_ms: 4000,
  min_requests: 20,
  phase: 'running',
  verdict: null,
};

const gateway = (name: string, revision: number, pid = 100): GatewayRecord => ({
  name,
  address: '127.0.0.1:1',
  version: 'test',
  pid,
  revision,
  hash: 'h',
  since: CANARY.at,
});

/** `ok` answers of 5 ms and `refused` connections refused, as a side's total. */
function side(ok: number, refused: number): SideCounts {
  const counts = emptySide();
  counts.requests = ok + refused;
  counts.unreachable = refused;
  counts.latency[bucketOf(5)] = ok;
  return counts;
}

const counts = (name: string, revision: number, total: SideCounts, pid = 100): CountsRecord => ({
  canary: CANARY.revision,
  gateway: name,
  pid,
  revision,
  total,
});

const running = [gateway('gw-a', 12), gateway('gw-b', 10), gateway('gw-c', 10)];

test('judged from the look that finds every canary gateway running it; worse rolls back at that look, with the metric and both figures', () => {
  const judge = new CanaryJudge(CANARY);
  const waiting = judge.look(CANARY, [gateway('gw-a', 10), ...running.slice(1)], []);
  assert.deepEqual(waiting, { kind: 'wait', why: 'waiting for gw-a to run it' });
  assert.deepEqual(judge.look(CANARY, running, []), {
    kind: 'looked',
    look: 1,
    looks: 4,
    line: 'not judged yet: 0 requests on the canary, 0 on the rest, 20 needed on each side',
  });
  const decision = judge.look(CANARY, running, [
    counts('gw-a', 12, side(0, 40)),
    counts('gw-b', 10, side(45, 0)),
    counts('gw-c', 10, side(40, 0)),
    // A gateway of the rest behind (not on the revision the canary was pushed over) is no baseline.
    counts('gw-d', 9, side(0, 500)),
  ]);
  assert.equal(decision.kind, 'rollback');
  assert.equal(decision.kind === 'rollback' && decision.look, 2);
  assert.match(
    decision.kind === 'rollback' ? decision.verdict : '',
    /^unreachable \(502: connection refused or failed\) 40\/40 \(100\.00%\) on the canary vs 0\/85 \(0\.00%\) on the rest \(p [<=] /,
  );
});

test('each look takes what a gateway counted since the last; a new process of it counts from zero', () => {
  const judge = new CanaryJudge(CANARY);
  judge.look(CANARY, running, []);
  const first = judge.look(CANARY, running, [
    counts('gw-a', 12, side(10, 0)),
    counts('gw-b', 10, side(10, 0)),
  ]);
  assert.deepEqual(
    first.kind === 'looked' &&
      first.line.startsWith('not judged yet: 10 requests on the canary, 10 on the rest'),
    true,
  );
  // gw-b restarted (another pid, a smaller total): its total is new, not less than before.
  const second = judge.look(CANARY, running, [
    counts('gw-a', 12, side(25, 0)),
    counts('gw-b', 10, side(15, 0), 200),
  ]);
  assert.equal(second.kind, 'looked');
  assert.match(
    second.kind === 'looked' ? second.line : '',
    /^no worse so far: status_5xx 0\/25 \(0\.00%\) vs 0\/25 /,
  );
  const last = judge.look(CANARY, running, [
    counts('gw-a', 12, side(40, 0)),
    counts('gw-b', 10, side(30, 0), 200),
  ]);
  assert.equal(last.kind, 'promote');
  assert.match(
    last.kind === 'promote' ? last.verdict : '',
    /^held for 4000 ms, no metric worse: status_5xx 0\/40 \(0\.00%\) vs 0\/40 /,
  );
});

test('a canary gateway gone, restarted or refusing the revision fails the canary', () => {
  const gone = new CanaryJudge(CANARY).look(CANARY, running.slice(1), []);
  assert.deepEqual(gone, {
    kind: 'rollback',
    verdict: 'canary gateway gw-a is gone (its lease ended: it stopped, died or lost etcd)',
  });
  const refusing = {
    ...gateway('gw-a', 10),
    refused: { revision: 12, at: CANARY.at, problems: ['x.yaml:1:1  routes: bad'] },
  };
  assert.deepEqual(new CanaryJudge(CANARY).look(CANARY, [refusing, ...running.slice(1)], []), {
    kind: 'rollback',
    verdict: 'canary gateway gw-a refused revision 12: x.yaml:1:1  routes: bad',
  });
  const judge = new CanaryJudge(CANARY);
  judge.look(CANARY, running, []);
  assert.deepEqual(judge.look(CANARY, [gateway('gw-a', 12, 101), ...running.slice(1)], []), {
    kind: 'rollback',
    verdict: 'canary gateway gw-a restarted while it ran revision 12 (pid 100, now 101)',
  });
});

test("a gateway's window counts every attempt whatever its upstream, by shape, once asked, and starts again when taken", () => {
  const window = new GatewayWindow();
  window.record('a', undefined, 503, 5);
  assert.equal(window.take().requests, 0, 'nothing is counted before a fleet asks');
  window.record('a', new Failure('connection_refused', 'refused'), undefined, 1);
  window.record('b', undefined, 503, 5);
  window.record('c', undefined, 200, 5);
  window.record('c', new Failure('client_closed', 'left'), undefined, 5);
  const taken = window.take();
  assert.deepEqual(
    { requests: taken.requests, unreachable: taken.unreachable, status_5xx: taken.status_5xx },
    { requests: 3, unreachable: 1, status_5xx: 1 },
  );
  assert.equal(window.take().requests, 0);
});

test("the gateway's own 500s are counted once asked, and a canary with more of them is rolled back naming gateway_error", () => {
  const window = new GatewayWindow();
  window.ownError();
  assert.equal(window.take().requests, 0, 'nothing is counted before a fleet asks');
  window.ownError();
  window.record('a', undefined, 200, 5);
  const taken = window.take();
  assert.deepEqual(
    { requests: taken.requests, gateway_error: taken.gateway_error, status_5xx: taken.status_5xx },
    { requests: 2, gateway_error: 1, status_5xx: 0 },
  );

  const judge = new CanaryJudge(CANARY);
  judge.look(CANARY, running, []);
  // Half the canary's requests were its own 500s (no attempt made); its answers are as good as the rest's.
  const failing = side(30, 0);
  failing.requests += 30;
  failing.gateway_error = 30;
  const decision = judge.look(CANARY, running, [
    counts('gw-a', 12, failing),
    counts('gw-b', 10, side(60, 0)),
  ]);
  assert.equal(decision.kind, 'rollback');
  assert.match(
    decision.kind === 'rollback' ? decision.verdict : '',
    /^gateway_error \(500: the gateway's own error, a plugin's throw or overrun\) 30\/60 \(50\.00%\) on the canary vs 0\/60 \(0\.00%\) on the rest \(p [<=] /,
  );
});

test("an older gateway's total without gateway_error is read as none, not dropped", () => {
  const judge = new CanaryJudge(CANARY);
  judge.look(CANARY, running, []);
  const { gateway_error: _, ...older } = side(30, 0);
  const decision = judge.look(CANARY, running, [
    counts('gw-a', 12, side(30, 0)),
    { ...counts('gw-b', 10, side(0, 0)), total: older },
  ]);
  assert.equal(decision.kind, 'looked');
  assert.match(
    decision.kind === 'looked' ? decision.line : '',
    /^no worse so far: status_5xx 0\/30 \(0\.00%\) vs 0\/30 /,
  );
});
