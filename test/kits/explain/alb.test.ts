/**
 * `explain` on AWS Application Load Balancer access logs (fixtures/alb.log, built by fixtures/build-doc-fixtures.ts
 * from the access-log docs' field list: an api target that stops answering, then a target group left
 * with no target; a web target with idle timeouts and 500s of its own; a Lambda target's
 * invalid response and throttling; a client that left).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { detectFormat } from '../../../src/kits/explain/detect-format.ts';
import type { RequestLine } from '../../../src/kits/explain/log-record.ts';
import { albReader } from '../../../src/kits/explain/readers/alb-reader.ts';
import { renderText } from '../../../src/kits/explain/render-text.ts';
import { explain, fixture, lines, typeCounts } from './explain-fixture.ts';

test('ALB: elb vs target status tells who made each 5xx; only the certain ones get a type', async () => {
  const report = await explain([fixture('alb.log')]);
  assert.deepEqual(
    report.files.map((f) => [f.format, f.lines, f.records]),
    [['alb', 129, 129]],
  );
  assert.deepEqual(report.statuses, [
    { status: 200, count: 100 },
    { status: 460, count: 1 },
    { status: 500, count: 3 },
    { status: 502, count: 8 },
    { status: 503, count: 14 },
    { status: 504, count: 3 },
  ]);
  assert.deepEqual(typeCounts(report), {
    destination_unavailable: 12, // 503, no target: the group had none registered
    http_protocol_error: 2, // LambdaInvalidResponse
    connection_limit_reached: 2, // LambdaThrottling
  });
  assert.equal(report.upstreamOwn5xx, 3, 'target_status_code 500 = elb_status_code 500');
  // ALB's own 502s (target sent nothing, -1 times) and idle-timeout 504s: made by ALB, cause unsaid.
  assert.equal(report.unexplained5xx, 6 + 3);
  assert.equal(report.clientAborted, 1);
  assert.deepEqual(
    report.upstreams.map((u) => [u.name, u.requests, u.errors5xx, u.failures, u.topType]),
    [
      ['api-tg', 69, 18, 12, 'destination_unavailable'],
      ['report-fn', 4, 4, 4, 'http_protocol_error'],
      ['web-tg', 56, 6, 0, undefined],
    ],
  );
  assert.match(report.notes.join('\n'), /-1 stands for a refused or closed connection/);
  assert.match(renderText(report), /\n {4}destination_unavailable +12 +503 +503×12 +api-tg \(12\)\n/);
});

test('ALB: the fields a line gives', () => {
  const all = lines('alb.log').map((l) => albReader.read(l) as RequestLine);
  const [first] = all;
  const fields = lines('alb.log')[0].split(' ');
  assert.equal(first.time, Date.parse(fields[1]));
  assert.equal(first.target, '10.0.1.11:8080');
  assert.equal(first.upstream, 'api-tg');
  assert.equal(first.requestId, 'Root=1-6740f0a0-000000000000000000000001');
  assert.equal(first.waitMs, Number(fields[6]) * 1000, 'target_processing_time');
  const own500 = all.filter((r) => r.status === 500);
  assert.deepEqual(
    own500.map((r) => r.producedBy),
    ['upstream', 'upstream', 'upstream'],
  );
  const made = all.filter((r) => r.status === 502 || r.status === 504);
  assert.ok(made.every((r) => r.producedBy === 'proxy' && r.waitMs === undefined));
  // Fields ALB adds at the end later are ignored.
  assert.equal(albReader.read(`${lines('alb.log')[0]} "new-field"`)?.kind, 'request');
  assert.equal(detectFormat(lines('alb.log').slice(0, 20))?.format, 'alb');
});

test("ALB: a rule's fixed 503 is ALB's configured answer; a request WAF rejected is denied", () => {
  const [line] = lines('alb.log');
  const fixed = line
    .replace(/ 10\.0\.1\.11:8080 [\d.]+ [\d.]+ [\d.]+ 200 200 /, ' - -1 -1 -1 503 - ')
    .replace('"forward"', '"fixed-response"');
  const maintenance = albReader.read(fixed) as RequestLine;
  assert.equal(maintenance.status, 503);
  assert.equal(maintenance.failure, 'proxy_internal_response');
  assert.equal(maintenance.producedBy, 'proxy');
  const waf = line
    .replace(/ 10\.0\.1\.11:8080 [\d.]+ [\d.]+ [\d.]+ 200 200 /, ' - -1 -1 -1 403 - ')
    .replace('"forward"', '"waf"');
  assert.equal((albReader.read(waf) as RequestLine).failure, 'http_request_denied');
});
