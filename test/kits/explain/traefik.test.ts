/**
 * `explain` on Traefik's JSON access log (fixtures/traefik.log, built by fixtures/build-doc-fixtures.ts
 * from the access-log docs' field list: an api service whose second server stops answering, then loses every server to
 * its health check; a web service with two timeouts and two 500s of its own; scanners that no
 * router matches; retried requests; a client that left).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { detectFormat } from '../../../src/kits/explain/detect-format.ts';
import type { RequestLine } from '../../../src/kits/explain/log-record.ts';
import { traefikReader } from '../../../src/kits/explain/readers/traefik-reader.ts';
import { renderText } from '../../../src/kits/explain/render-text.ts';
import { explain, fixture, lines, typeCounts } from './explain-fixture.ts';

test('Traefik: only the answers it certainly made itself get a type; its other 5xx stay unexplained', async () => {
  const report = await explain([fixture('traefik.log')]);
  assert.deepEqual(
    report.files.map((f) => [f.format, f.lines, f.records]),
    [['traefik', 157, 157]],
  );
  assert.equal(report.requests, 157);
  assert.deepEqual(report.statuses, [
    { status: 200, count: 124 },
    { status: 404, count: 10 },
    { status: 499, count: 1 },
    { status: 500, count: 2 },
    { status: 502, count: 6 },
    { status: 503, count: 12 },
    { status: 504, count: 2 },
  ]);
  // 503 from a router with no server picked; 404 with no router.
  assert.deepEqual(typeCounts(report), { destination_unavailable: 12, destination_not_found: 10 });
  // Its own 502/504 and the app's 500s look alike in OriginStatus: none is called the upstream's own.
  assert.equal(report.upstreamOwn5xx, 0);
  assert.equal(report.unexplained5xx, 6 + 2 + 2);
  assert.equal(report.untypedRetries, 4);
  assert.equal(report.failedAttempts, 4);
  assert.equal(report.clientAborted, 1);
  assert.deepEqual(
    report.upstreams.map((u) => [u.name, u.requests, u.errors5xx, u.failures]),
    [
      ['api@docker', 83, 18, 12],
      ['-', 10, 0, 10],
      ['web@docker', 64, 4, 0],
    ],
  );
  assert.deepEqual(
    report.targets.map((t) => [t.name, t.requests, t.errors5xx]),
    [
      ['10.0.1.12:8080', 36, 6],
      ['10.0.2.21:3000', 64, 4],
      ['10.0.1.11:8080', 35, 0],
    ],
  );
  assert.match(report.notes.join('\n'), /writes its own 502\/504 .* into OriginStatus/);
  const text = renderText(report);
  assert.match(text, /\n {4}destination_unavailable +12 +503 +503×12 +api@docker \(12\)\n/);
  assert.match(text, /\n {2}5xx, cause unknown \(no failure in these logs\) +10\n/);
  assert.match(text, /\n {2}retried attempts, failure not logged +4\n/);
});

test('Traefik: the fields a line gives, ServiceURL as a string or as a url.URL object', () => {
  const [first] = lines('traefik.log');
  const record = traefikReader.read(first) as RequestLine;
  assert.equal(record.kind, 'request');
  assert.equal(record.upstream, 'api@docker');
  assert.equal(record.target, '10.0.1.11:8080');
  assert.equal(record.requestId, '9f1c0001-5b2e-4d0a-8c3e-000000000001');
  const entry = JSON.parse(first);
  // StartUTC + Duration (ns): when the answer ended.
  assert.equal(record.time, Date.parse(entry.StartUTC) + entry.Duration / 1e6);
  assert.equal(record.waitMs, entry.OriginDuration / 1e6);
  delete entry.ServiceAddr;
  entry.ServiceURL = 'http://10.0.1.11:8080';
  assert.equal((traefikReader.read(JSON.stringify(entry)) as RequestLine).target, '10.0.1.11:8080');
  // A 503 with a server picked is not "no server".
  const picked = { ...entry, DownstreamStatus: 503, OriginStatus: 503 };
  assert.equal((traefikReader.read(JSON.stringify(picked)) as RequestLine).failure, undefined);
  assert.equal(detectFormat(lines('traefik.log').slice(0, 20))?.format, 'traefik');
});

test('Traefik: a log with most fields dropped is still read; the time falls back to `time`', () => {
  const line =
    '{"DownstreamStatus":502,"RouterName":"api@docker","level":"info","msg":"","time":"2026-11-21T10:00:00+01:00"}';
  assert.equal(traefikReader.sniff(line), true);
  const record = traefikReader.read(line) as RequestLine;
  assert.equal(record.status, 502);
  assert.equal(record.time, Date.parse('2026-11-21T09:00:00Z'));
  assert.equal(record.failure, undefined);
  assert.equal(record.producedBy, undefined);
});

test("Traefik's default common format reads as its JSON does, less what it does not log (retries, request ids)", async () => {
  const json = await explain([fixture('traefik.log')]);
  const common = await explain([fixture('traefik-common.log')]);
  assert.deepEqual(
    common.files.map((f) => [f.format, f.lines, f.parsed]),
    [['traefik-clf', 157, 157]],
  );
  assert.deepEqual(typeCounts(common), typeCounts(json));
  assert.deepEqual(common.statuses, json.statuses);
  assert.deepEqual(common.errors5xx, json.errors5xx);
  assert.equal(common.untypedRetries, 0, 'the common format has no RetryAttempts');
  assert.match(common.notes.join('\n'), /common log format writes its own 502\/504/);
});
