/**
 * An nginx log_format without a time variable (issue 24, item 16) is read without a timeline:
 * counts, failure causes the line tells, upstreams and who made each 5xx are what the same lines
 * with their time give; storms say they need times. The lines are the recorded ones of
 * log_format edge (nginx-custom.log) with their `[$time_iso8601]` taken out.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Report } from '../../../src/kits/explain/report.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { fixture, lines, runExplain } from './explain-fixture.ts';

const dir = tempDir('candor-explain-timeless-');
const TIMED =
  '$remote_addr [$time_iso8601] $request_id "$request" $status up=$upstream_addr ust=$upstream_status ct=$upstream_connect_time ht=$upstream_header_time rt=$upstream_response_time t=$request_time';
const TIMELESS = TIMED.replace(' [$time_iso8601]', '');
const timeless = join(dir, 'timeless.log');
writeFileSync(
  timeless,
  `${lines('nginx-custom.log')
    .map((line) => line.replace(/ \[[^\]]+\]/, ''))
    .join('\n')}\n`,
);

async function json(args: string[]): Promise<Report> {
  const { code, stdout, stderr } = await runExplain(['--json', ...args]);
  assert.equal(code, 0, stderr);
  return JSON.parse(stdout) as Report;
}

test('a log_format without a time is read: the counts, upstreams and 5xx split of the same lines with their time', async () => {
  const withTime = await json(['--log-format', TIMED, fixture('nginx-custom.log')]);
  const without = await json(['--log-format', TIMELESS, timeless]);
  assert.equal(without.files[0].parsed, withTime.files[0].parsed);
  assert.equal(without.files[0].skipped, 0);
  for (const key of [
    'requests',
    'statuses',
    'shapes',
    'errors5xx',
    'upstreamOwn5xx',
    'unexplained5xx',
  ] as const)
    assert.deepEqual(without[key], withTime[key], key);
  const places = (r: Report) => r.upstreams.map((u) => [u.name, u.requests, u.errors5xx]);
  assert.deepEqual(places(without), places(withTime));
  assert.ok(withTime.requests > 0 && withTime.errors5xx.byProxy > 0);
  assert.equal(without.untimed, without.requests);
  assert.equal(withTime.untimed, 0);
  assert.deepEqual(without.storms, []);
  assert.equal(without.from, undefined);
  assert.ok(without.notes.some((n) => n.includes('has no time ($time_local, $time_iso8601 or $msec)')));
});

test('read with the error log, its failures are counted as attempts by upstream; the text says storms need times', async () => {
  const { code, stdout, stderr } = await runExplain([
    '--log-format',
    TIMELESS,
    timeless,
    fixture('nginx-burst-error.log'),
  ]);
  assert.equal(code, 0, stderr);
  assert.match(
    stdout,
    /\nStorms\n {2}none found: no request has a time \(the log_format writes none\), and storms need times\n/,
  );
  assert.match(
    stdout,
    /\n {4}check: {2}the error log's failures above, by upstream: without a time in the log_format they cannot be joined to their requests \(add \$time_iso8601 or \$msec to it\)\n/,
  );
  const report = await json(['--log-format', TIMELESS, timeless, fixture('nginx-burst-error.log')]);
  assert.ok(report.failedAttempts > 0);
  assert.ok(!report.notes.some((n) => n.includes('met a request')), 'no zone advice: the lines have no time');
  assert.ok(report.shapes.some((shape) => shape.types.some((t) => t.attempts > 0)));
});
