/** The timeout finding: did the timeout cut slow work or hung requests, and what p99 supports. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DurationHistogram } from '../../../src/kits/explain/histogram.ts';
import { timeoutText as renderTimeout } from '../../../src/kits/explain/render-timeouts.ts';
import { Tally } from '../../../src/kits/explain/tally.ts';
import { adviseTimeout, roundNear, roundUp } from '../../../src/kits/explain/timeout-advice.ts';

function upstreamWith(answered: number[], timedOut: number[]) {
  const tally = new Tally();
  const time = Date.UTC(2026, 0, 1);
  for (const waitMs of answered)
    tally.addRequest({ kind: 'request', time, status: 200, upstream: 'api', waitMs }, true);
  for (const waitMs of timedOut)
    tally.addRequest(
      { kind: 'request', time, status: 504, upstream: 'api', failure: 'http_response_timeout', waitMs },
      true,
    );
  const upstream = tally.byUpstream.get('api');
  assert.ok(upstream);
  return upstream;
}

const spread = (from: number, to: number, n: number) =>
  Array.from({ length: n }, (_, i) => from + ((to - from) * i) / (n - 1));

test('answers close to the timeout: it cuts slow work; suggest p99 × 1.5', () => {
  const finding = adviseTimeout('api', upstreamWith(spread(200, 1900, 200), spread(2000, 2010, 20)));
  assert.equal(finding?.verdict, 'timeout_cuts_slow_work');
  assert.equal(finding.hugsTimeout, true);
  assert.equal(finding.configuredMs, 2000);
  assert.ok(finding.answeredP99Ms && Math.abs(finding.answeredP99Ms - 1883) < 50);
  assert.equal(finding.suggestedMs, roundUp((finding.answeredP99Ms ?? 0) * 1.5));
});

test('answers far below the timeout: the requests that timed out hung', () => {
  const finding = adviseTimeout('api', upstreamWith(spread(20, 80, 500), spread(30_000, 30_050, 10)));
  assert.equal(finding?.verdict, 'upstream_hangs');
  assert.equal(finding.configuredMs, 30_000);
  assert.ok((finding.suggestedMs ?? 0) <= 130, `suggested ${finding.suggestedMs}`);
});

test('no answers, or no waits in the log: nothing to suggest', () => {
  assert.equal(adviseTimeout('api', upstreamWith([], [1000, 1001]))?.verdict, 'nothing_to_compare');
  const tally = new Tally();
  tally.addRequest(
    { kind: 'request', time: 0, status: 504, upstream: 'web', failure: 'http_response_timeout' },
    true,
  );
  const web = tally.byUpstream.get('web');
  assert.ok(web);
  assert.equal(adviseTimeout('web', web)?.verdict, 'unmeasured');
  assert.equal(adviseTimeout('api', upstreamWith([100, 200], [])), undefined, 'no timeouts, no finding');
});

test('rounding to two significant digits', () => {
  assert.deepEqual([roundUp(1437), roundUp(96.2), roundUp(30_001)], [1500, 97, 31_000]);
  assert.deepEqual([roundNear(1012), roundNear(987), roundNear(29_800)], [1000, 990, 30_000]);
});

test('histogram quantiles stay within 2.5% of the exact value', () => {
  const h = new DurationHistogram();
  const values = spread(1, 10_000, 10_001);
  for (const v of values) h.add(v);
  for (const q of [0.1, 0.5, 0.9, 0.99]) {
    const exact = values[Math.ceil(q * values.length) - 1];
    const got = h.quantile(q) ?? 0;
    assert.ok(Math.abs(got - exact) / exact < 0.026, `q${q}: ${got} vs ${exact}`);
  }
});

test('14 answered requests: a verdict, but no timeout from their "p99", and the text says how many (issue 32, item 7)', () => {
  const finding = adviseTimeout('api', upstreamWith(spread(5, 9, 14), spread(1000, 1002, 8)));
  assert.equal(finding?.verdict, 'upstream_hangs');
  assert.equal(finding.answered, 14);
  assert.equal(finding.suggestedMs, undefined, 'a p99 of 14 requests is their slowest');
  const text = renderTimeout(finding);
  assert.doesNotMatch(text, /p99 × 1\.5/);
  assert.match(text, /slowest 9 ms of 14/);
  assert.match(text, /14 answered requests are too few to suggest a value from: a p99 takes 100/);
  const enough = adviseTimeout('api', upstreamWith(spread(5, 9, 100), spread(1000, 1002, 8)));
  assert.ok(enough);
  assert.match(renderTimeout(enough), /p99 × 1\.5, from 100 answered requests/);
});

test("a quarter of the requests cut at the timeout: the answered ones' p99 is no fit, and the text says it is a floor", () => {
  // Through a real gateway (response timeout 1 s): 70% of the upstream's answers took 50 ms, the
  // rest 0.6–3 s. 222 answered (p99 908 ms), 78 cut: "set the response timeout to about 1.40 s"
  // would still have cut a fifth of them, the upstream's own p99 being 2.9 s.
  const finding = adviseTimeout(
    'api',
    upstreamWith([...spread(50, 50, 210), ...spread(600, 990, 12)], spread(1000, 1010, 78)),
  );
  assert.equal(finding?.verdict, 'timeout_cuts_slow_work');
  assert.equal(finding.suggestedFloor, true);
  const text = renderTimeout(finding);
  assert.doesNotMatch(text, /set the response timeout to about/);
  assert.match(
    text,
    /set the response timeout to at least 1\.\d+ s \(p99 × 1\.5, from 222 answered requests\): 78 of 300 \(26%\) were cut, so the upstream's own p99 is above the timeout, and these logs cannot say by how much/,
  );
  // 1% or fewer cut: the answered ones' p99 is the upstream's, and the value a fit.
  const few = adviseTimeout('api', upstreamWith(spread(200, 1900, 300), spread(2000, 2010, 2)));
  assert.ok(few);
  assert.equal(few.suggestedFloor, undefined);
  assert.match(renderTimeout(few), /set the response timeout to about /);
});
