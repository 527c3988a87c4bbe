/**
 * HAProxy's default `option httplog` writes each request's retried connections (`%rc`, the last
 * of `%ac/%fc/%bc/%sc/%rc`, `+` before it when the request was redispatched to another server),
 * as its custom log-format reader already counted them: recorded from HAProxy 2.6.12 (Debian
 * 12) by fixtures/record-haproxy-retries.ts, a pool whose first server refuses every connection
 * (`retries 1`, `option redispatch`: eight 200s, each `+1`, the dead server seen nowhere else)
 * and a refusing server alone (`retries 2`: four 503s, each `2`).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderText } from '../../../src/kits/explain/render-text.ts';
import { explain, fixture, lines } from './explain-fixture.ts';

const LOG = 'peers/haproxy-2.6-retries.log';

test('httplog: the retries HAProxy made are counted as retried attempts, a redispatch among them', async () => {
  const raw = lines(LOG);
  const retried = raw.reduce(
    (sum, l) => sum + Number(/ \d+\/\d+\/\d+\/\d+\/\+?(\d+) \d+\/\d+ /.exec(l)?.[1] ?? 0),
    0,
  );
  assert.equal(retried, 8 * 1 + 4 * 2, 'the recording: 8 redispatched GETs, 4 retried twice');
  const report = await explain([fixture(LOG)]);
  assert.equal(report.requests, raw.filter((l) => l.includes(' "GET ')).length);
  assert.equal(report.untypedRetries, 16);
  assert.equal(report.failedAttempts, 16);
  assert.match(renderText(report), /\n {2}retried attempts, failure not logged +16\n/);
});
