/** `candor explain` as a real child process: gzip input, --json, the text report, usage errors. */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { PlaceRow, Report } from '../../../src/kits/explain/report.ts';
import { DOCS_TEXT } from '../../helpers/docs-text.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { explain, fixture, LOG_SETS, runExplain } from './explain-fixture.ts';

const dir = tempDir('candor-explain-');

const withoutFiles = (report: Report) => ({ ...report, files: [] });

test('gzipped logs are read as they are, detected by their first bytes, not their name', async () => {
  const rotated = join(dir, 'candor.log.1');
  writeFileSync(rotated, gzipSync(readFileSync(fixture('candor.log'))));
  const plain = await explain(LOG_SETS.candor);
  const gzipped = await explain([rotated]);
  assert.equal(gzipped.files[0].gzip, true);
  assert.equal(gzipped.files[0].format, 'candor');
  assert.deepEqual(withoutFiles(gzipped), withoutFiles(plain));
});

test('a gzipped error log still meets its plain access log', async () => {
  const error = join(dir, 'error.log.gz');
  writeFileSync(error, gzipSync(readFileSync(fixture('nginx-error.log'))));
  const plain = await explain(LOG_SETS.nginx);
  const mixed = await explain([LOG_SETS.nginx[0], error]);
  assert.deepEqual(withoutFiles(mixed), withoutFiles(plain));
});

test('a gzipped log cut short (still being written, or a copy cut off) is named, not a crash', async () => {
  const whole = gzipSync(readFileSync(fixture('nginx-access.log')));
  const cut = join(dir, 'access.log.2.gz');
  writeFileSync(cut, whole.subarray(0, whole.length - 100));
  const { code, stdout, stderr } = await runExplain([cut]);
  assert.equal(stdout, '');
  assert.equal(code, 65);
  assert.match(
    stderr,
    /^candor: .*access\.log\.2\.gz: its gzip data ends early or is damaged \(unexpected end of file\)/,
  );
  assert.doesNotMatch(stderr, /\n {4}at /, 'no stack trace');
});

test('a LOG of - is what stdin carries (kubectl logs | candor explain -), plain or gzipped, told as stdin', async () => {
  const log = readFileSync(fixture('candor.log'));
  const fromFile = await runExplain(['--json', fixture('candor.log')]);
  for (const input of [log, gzipSync(log)]) {
    const { code, stdout, stderr } = await runExplain(['--json', '-'], input);
    assert.equal(code, 0, stderr);
    const report = JSON.parse(stdout) as Report;
    assert.equal(report.files[0].path, 'stdin');
    assert.deepEqual(withoutFiles(report), withoutFiles(JSON.parse(fromFile.stdout) as Report));
  }
  // Beside a file, read with it as any two logs are.
  const both = await runExplain(['--json', '-', LOG_SETS.nginx[1]], readFileSync(LOG_SETS.nginx[0]));
  assert.equal(both.code, 0, both.stderr);
  const files = await runExplain(['--json', ...LOG_SETS.nginx]);
  assert.deepEqual(
    withoutFiles(JSON.parse(both.stdout) as Report),
    withoutFiles(JSON.parse(files.stdout) as Report),
  );
  // What is not a log is refused as a file's would be, named as stdin; - twice is a usage error.
  const garbage = await runExplain(['-'], Buffer.from('not a log line\n'.repeat(50)));
  assert.equal(garbage.code, 65);
  assert.match(garbage.stderr, /^candor: stdin/);
  const twice = await runExplain(['-', '-'], Buffer.from(''));
  assert.equal(twice.code, 64);
  assert.equal(twice.stderr, 'candor: - (stdin) is named twice\nRun "candor explain --help" for usage.\n');
});

test('--json: the whole report for machines', async () => {
  const { code, stdout, stderr } = await runExplain([
    '--json',
    '--deploys',
    fixture('deploys.txt'),
    ...LOG_SETS.haproxy,
  ]);
  assert.equal(code, 0, stderr);
  const report = JSON.parse(stdout) as Report;
  assert.deepEqual(Object.keys(report), [
    'files',
    'from',
    'to',
    'requests',
    'failedAttempts',
    'statuses',
    'shapes',
    'errors5xx',
    'upstreamOwn5xx',
    'upstreamOwn5xxStale',
    'staleAnswers',
    'pluginOwn5xx',
    'unexplained5xx',
    'unknownTypes',
    'untypedRetries',
    'clientAborted',
    'clientAbortedMidAnswer',
    'untimed',
    'upstreams',
    'targets',
    'protocols',
    'grpc',
    'refusals',
    'bucketSeconds',
    'storms',
    'timeouts',
    'health',
    'notes',
  ]);
  assert.deepEqual(Object.keys(report.files[0]), [
    'path',
    'format',
    'title',
    'gzip',
    'bytes',
    'lines',
    'parsed',
    'skipped',
    'tooLong',
    'records',
    'errors5xx',
    'stepsBack',
  ]);
  assert.deepEqual(report.statuses[0], { status: 200, count: report.statuses[0].count });
  const slow = report.shapes.find((s) => s.shape === 'slow');
  assert.deepEqual(Object.keys(slow?.types[0] ?? {}), [
    'type',
    'status',
    'answered',
    'count',
    'requests',
    'attempts',
    'loggedStatuses',
    'grpcStatuses',
    'upstreams',
    'cases',
  ]);
  assert.equal(report.storms[0].afterChange?.label, 'v42');
  assert.match(report.storms[0].began, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  const slowish = report.timeouts.find((t) => t.upstream === 'be_slowish');
  assert.equal(slowish?.verdict, 'timeout_cuts_slow_work');
  assert.equal(slowish.configuredMs, 1000, 'timeout server 1s');
  assert.equal(report.timeouts.find((t) => t.upstream === 'be_hang')?.verdict, 'nothing_to_compare');
});

test('the text report tells the story: shapes, storm and deploy, timeout, what to check', async () => {
  const { code, stdout } = await runExplain(['--deploys', fixture('deploys.txt'), ...LOG_SETS.haproxy]);
  assert.equal(code, 0);
  for (const expected of [
    /^candor explain: 271 requests, /,
    /^Failures by shape and type$/m,
    /^ {2}unreachable: the upstream is not there +\d+$/m,
    /^ {4}connection_refused +\d+ +502 +503×\d+ +be_app \(\d+\)/m,
    /^ {2}be_app: .* connection_refused ×\d+$/m,
    /^ {4}storm began \d+ ms after deploy v42: suspect the deploy first/m,
    /^ {4}they all waited 999–1055 ms: a timeout of about 1\.00 s cut them$/m,
    // 13 answered requests have no p99 of their own: no value is suggested (issue 32, item 7).
    /^ {4}answered requests: slowest 954 ms of 13, close to the timeout: it cuts legitimately slow work$/m,
    /^ {6}13 answered requests are too few to suggest a value from: a p99 takes 100$/m,
    /^What to check first$/m,
    /^ {4}check: {2}Start the upstream process, or fix the port in the target URL\.$/m,
  ]) {
    assert.match(stdout, expected);
  }
});

test('usage errors exit 64 with a message; a log in no format explain reads exits 65', async () => {
  const none = await runExplain([]);
  assert.equal(none.code, 64);
  assert.match(none.stderr, /needs at least one log file/);
  const text = join(dir, 'notes.txt');
  writeFileSync(text, 'just some notes\nnothing like a log\n');
  const unknown = await runExplain([text]);
  assert.equal(unknown.code, 65);
  assert.match(unknown.stderr, /not a log format explain reads/);
  const missing = await runExplain([join(dir, 'nope.log')]);
  assert.equal(missing.code, 64);
  assert.match(missing.stderr, /cannot read \S*nope\.log: no such file/);
  const bucket = await runExplain(['--bucket', '10', fixture('candor.log')]);
  assert.equal(bucket.code, 64);
  const badDeploys = join(dir, 'deploys.txt');
  writeFileSync(badDeploys, 'yesterday v1\n');
  const deploys = await runExplain(['--deploys', badDeploys, fixture('candor.log')]);
  assert.equal(deploys.code, 64);
  assert.match(deploys.stderr, /line 1: expected an ISO-8601 time/);
});

// `candor explain "$LOG"` with LOG unset said "cannot read : no such file", naming nothing.
test('an empty argument where a file goes exits 64 saying which one is empty', async () => {
  const empty = await runExplain(['']);
  assert.equal(empty.code, 64);
  assert.match(empty.stderr, /^candor: a LOG given is "", no file name \(a shell variable left empty\?\)\n/);
  const deploys = await runExplain(['--deploys', '', fixture('candor.log')]);
  assert.equal(deploys.code, 64);
  assert.match(deploys.stderr, /^candor: --deploys is "", no file name \(a shell variable left empty\?\)\n/);
  assert.equal(empty.stdout + deploys.stdout, '');
});

test('--format reads a file as the named format, skipping detection', async () => {
  const { code, stdout } = await runExplain([
    '--json',
    '--format',
    'nginx-error',
    fixture('nginx-error.log'),
  ]);
  assert.equal(code, 0);
  const report = JSON.parse(stdout) as Report;
  assert.equal(report.requests, 0);
  assert.ok(report.failedAttempts > 80, 'an error log alone: every failure is an attempt');
  assert.ok(report.storms.length >= 1);
});

test("the README's examples are what explain prints on the fixtures", async () => {
  const readme = DOCS_TEXT;
  const start = readme.indexOf('## candor explain');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  const blocks = [...section.matchAll(/```console\n\$ TZ=UTC npx candor explain (.*)\n([\s\S]*?)```/g)];
  assert.ok(blocks.length >= 5, 'README has the console examples under "## candor explain"');
  for (const block of blocks) {
    const { stdout, stderr } = await runExplain(block[1].split(' '));
    const printed = new Set(`${stdout}${stderr}`.split('\n'));
    for (const line of block[2].split('\n')) {
      if (line !== '' && line !== '…')
        assert.ok(printed.has(line), `README shows a line explain no longer prints:\n${line}`);
    }
  }
});

test('"they all waited" quotes the waits as the lines give them: 2001–2003 ms, not a rounded 1.98 s', async () => {
  const log = join(dir, 'waits.log');
  const line = (i: number, totalMs: number) =>
    JSON.stringify({
      level: 'warn',
      time: `2026-01-01T00:00:0${i}.000Z`,
      gateway: 'edge',
      msg: 'request',
      req_id: `w${i}`,
      status: 504,
      error: 'http_response_timeout',
      upstream: 'api',
      total_ms: totalMs,
    });
  writeFileSync(log, `${[line(1, 2001), line(2, 2003), line(3, 2002)].join('\n')}\n`);
  const { code, stdout } = await runExplain([log]);
  assert.equal(code, 0);
  assert.match(stdout, /^ {4}they all waited 2001–2003 ms: a timeout of about 2\.00 s cut them$/m);
});

test('a client cut for not reading, or gone, is no failure of the upstream or target its line names', async () => {
  const log = join(dir, 'clients.log');
  const line = (i: number, fields: Record<string, unknown>) =>
    JSON.stringify({
      level: 'warn',
      time: `2026-01-01T00:00:0${i}.000Z`,
      gateway: 'edge',
      msg: 'request',
      req_id: `c${i}`,
      upstream: 'api',
      target: 'http://10.0.0.7:8080',
      ...fields,
    });
  const slowReader = {
    status: 200,
    error: 'http_request_error',
    details: 'client took no response bytes for 30000 ms (limits.send_timeout)',
  };
  const gone = { status: 499, error: 'client_closed', client_aborted: true };
  writeFileSync(
    log,
    `${[line(1, slowReader), line(2, slowReader), line(3, gone), line(4, { status: 200 })].join('\n')}\n`,
  );
  const { code, stdout } = await runExplain(['--json', log]);
  assert.equal(code, 0);
  const report = JSON.parse(stdout) as { upstreams: PlaceRow[]; targets: PlaceRow[] };
  // Nor is it a time a failure began or ended.
  for (const row of [...report.upstreams, ...report.targets])
    assert.deepEqual(
      [row.name, row.requests, row.failures, row.topType, row.first5xx, row.last5xx],
      [row.name, 4, 0, undefined, undefined, undefined],
    );
});
