/**
 * `explain` never reports on a file it cannot read: a file of which fewer than 90% of the lines
 * are in its format (detected or forced) is refused with the lines that did not parse, and
 * every report counts each file's lines read, parsed and skipped.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { READERS } from '../../../src/kits/explain/detect-format.ts';
import { formatsList } from '../../../src/kits/explain/format-errors.ts';
import type { Report } from '../../../src/kits/explain/report.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { explain, fixture, lines, runExplain } from './explain-fixture.ts';

const dir = tempDir('candor-explain-silent-');

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const FORMATS = `${formatsList(READERS)}\n`;

test('an nginx log in a custom log_format forced as nginx-access is refused, not "Failures: none"', async () => {
  const file = fixture('nginx-custom.log');
  const { code, stdout, stderr } = await runExplain(['--format', 'nginx-access', file]);
  assert.equal(code, 65);
  assert.equal(stdout, '');
  const quoted = lines('nginx-custom.log')
    .slice(0, 5)
    .map((l, i) => `  line ${i + 1}: ${l.length > 160 ? `${l.slice(0, 160)}…` : l}`);
  assert.equal(
    stderr,
    `candor: ${file}: only 0 of its first 20 lines are nginx-access (nginx access log (combined)); explain needs 90%. Lines that did not parse:\n${quoted.join('\n')}\n${FORMATS}`,
  );
  assert.match(FORMATS, /candor \(Candor access log \(JSON\)\), nginx-access .*ingress-nginx/);
});

test('JSON lines of no format explain reads are refused with the keys seen', async () => {
  const file = write(
    'app.json',
    `${[1, 2, 3].map((i) => JSON.stringify({ ts: 1_700_000_000 + i, route: '/a', code: 502, level: 'info', msg: 'done' })).join('\n')}\n`,
  );
  const { code, stderr } = await runExplain([file]);
  assert.equal(code, 65);
  assert.equal(
    stderr,
    `candor: ${file}: JSON lines, but not a format explain reads (keys seen: ts, route, code, level, msg)\n${FORMATS}`,
  );
});

test("a Traefik or Caddy JSON access log is never read as Candor's (0 requests, exit 0 before)", async () => {
  // Field names from the Traefik and Caddy access-log documentation; both have level, time or ts, and msg.
  const traefik = write(
    'traefik.json',
    '{"ClientAddr":"10.0.0.1:51234","ClientHost":"10.0.0.1","DownstreamStatus":502,"Duration":1200000,"OriginStatus":0,"RequestMethod":"GET","RequestPath":"/a","RequestProtocol":"HTTP/1.1","RouterName":"api@docker","ServiceName":"api@docker","level":"info","msg":"","time":"2026-11-22T11:19:32Z"}\n',
  );
  const caddy = write(
    'caddy.json',
    '{"level":"error","ts":1795346372.17,"logger":"http.log.access","msg":"handled request","request":{"remote_ip":"10.0.0.1","method":"GET","uri":"/a","proto":"HTTP/1.1"},"duration":0.001,"size":0,"status":502}\n',
  );
  for (const file of [traefik, caddy]) {
    const { code, stdout, stderr } = await runExplain(['--json', file]);
    if (code === 65) {
      assert.match(stderr, /JSON lines, but not a format explain reads \(keys seen: /);
    } else {
      // Another reader claims it (explain-cloud's Traefik and Caddy readers): then as itself.
      assert.equal(code, 0, stderr);
      const report = JSON.parse(stdout) as Report;
      assert.notEqual(report.files[0].format, 'candor');
      assert.equal(report.requests, 1);
    }
    const forced = await runExplain(['--format', 'candor', file]);
    assert.equal(forced.code, 65, 'forced as Candor: refused');
    assert.match(forced.stderr, /only 0 of its first 1 lines are candor/);
  }
});

test('detection does not take a format that matches only a minority of the first lines', async () => {
  const nginx = lines('nginx-access.log').slice(0, 8);
  const file = write(
    'mixed.log',
    `${[...nginx, ...Array.from({ length: 12 }, (_, i) => `note ${i}`)].join('\n')}\n`,
  );
  const { code, stderr } = await runExplain([file]);
  assert.equal(code, 65);
  assert.match(
    stderr,
    /: not a log format explain reads: no format reads 90% of its first 20 lines \(closest: nginx-access, 8 of 20 lines\)\. Lines that did not parse:\n {2}line 9: note 0\n {2}line 10: note 1\n/,
  );
});

test('a file that turns into something else after its first lines is refused once read', async () => {
  const nginx = lines('nginx-access.log');
  const body = [...nginx.slice(0, 40), '', ...Array.from({ length: 20 }, (_, i) => `garbage ${i}`)];
  const file = write('turns.log', `${body.join('\n')}\n`);
  const { code, stderr } = await runExplain([file]);
  assert.equal(code, 65);
  assert.equal(
    stderr,
    `candor: ${file}: only 40 of its 60 lines are nginx-access (nginx access log (combined)); explain needs 90%. Lines that did not parse:\n  line 42: garbage 0\n  line 43: garbage 1\n  line 44: garbage 2\n  line 45: garbage 3\n  line 46: garbage 4\n${FORMATS}`,
  );
});

test('a few foreign lines (under 10%) are read past, and every report counts them', async () => {
  const nginx = lines('nginx-access.log');
  const file = write(
    'few.log',
    `${[...nginx.slice(0, 50), 'a stray line', ...nginx.slice(50, 100)].join('\n')}\n`,
  );
  const report = await explain([file]);
  assert.deepEqual(
    report.files.map((f) => [f.format, f.lines, f.parsed, f.skipped, f.records]),
    [['nginx-access', 101, 100, 1, 100]],
  );
  const { code, stdout } = await runExplain([file]);
  assert.equal(code, 0);
  assert.match(stdout, / {2}nginx-access {2}101 lines {2}100 parsed {2}1 skipped {2}100 records\n/);
});

test('an empty file (an error log with nothing in it) is reported as empty, not refused', async () => {
  const empty = write('error.log', '');
  const report = await explain([fixture('nginx-access.log'), empty]);
  assert.deepEqual(
    report.files.map((f) => [f.format, f.lines]),
    [
      ['nginx-access', 271],
      ['empty', 0],
    ],
  );
});

test("another Go program's zap JSON log is refused, not read as Caddy's log with 0 requests", async () => {
  // zap's production encoder writes {"level":…,"ts":…} as Caddy does; no Caddy logger names it.
  const file = write(
    'zap.json',
    `${[
      '{"level":"info","ts":1795345200.123,"caller":"server/main.go:42","msg":"starting server","addr":":8080"}',
      '{"level":"error","ts":1795345201.456,"caller":"server/handler.go:88","msg":"request failed","status":502,"path":"/api","error":"dial tcp 10.0.0.5:8080: connect: connection refused"}',
      '{"level":"info","ts":1795345202.789,"caller":"server/handler.go:90","msg":"request done","status":200}',
    ].join('\n')}\n`,
  );
  const { code, stdout, stderr } = await runExplain([file]);
  assert.equal(stdout, '');
  assert.equal(code, 65);
  assert.match(stderr, /zap\.json: .*not Caddy's/);
  // Caddy's own log, whose first lines name its loggers, is still read.
  const caddy = await runExplain([fixture('caddy.log')]);
  assert.equal(caddy.code, 0, caddy.stderr);
});

test('a UTF-8 byte order mark before the first line is not part of it', async () => {
  const nginx = lines('nginx-access.log').slice(0, 3);
  const file = write('bom.log', `\u{feff}${nginx.join('\n')}\n`);
  const report = await explain([file]);
  assert.deepEqual(
    report.files.map((f) => [f.format, f.lines, f.parsed, f.skipped]),
    [['nginx-access', 3, 3, 0]],
  );
});

test('a file out of time order (rotated logs concatenated newest first) is said to be, with the first line that steps back', async () => {
  const line = (time: string, path: string, status: number) =>
    `127.0.0.1 - - [22/Nov/2026:${time} +0000] "GET ${path} HTTP/1.1" ${status} 157 "-" "curl/8.0"\n`;
  const newestFirst = join(dir, 'concatenated.log');
  writeFileSync(
    newestFirst,
    line('12:00:00', '/a', 502) +
      line('12:00:01', '/b', 200) +
      line('11:00:00', '/a', 502) +
      line('11:00:05', '/c', 200),
  );
  const inOrder = join(dir, 'in-order.log');
  writeFileSync(inOrder, line('11:00:00', '/a', 502) + line('12:00:00', '/a', 502));
  const report = await explain([newestFirst, inOrder]);
  assert.deepEqual(
    report.files.map((f) => [f.stepsBack, f.firstStepBack]),
    [
      [1, 3],
      [0, undefined],
    ],
  );
  const notes = report.notes.filter((n) => n.includes('not in time order'));
  assert.equal(notes.length, 1);
  assert.match(
    notes[0],
    /concatenated\.log is not in time order: 1 of its records .* \(the first at line 3\)/,
  );
});

test('an error log read in the wrong zone: no line meets a request, and the report says why that may be', async () => {
  const files = [fixture('nginx-access.log'), fixture('nginx-error.log')];
  assert.equal(
    (await explain(files)).notes.some((n) => n.startsWith('None of')),
    false,
    'in the zone they were written in, they meet',
  );
  process.env.TZ = 'Europe/Paris';
  try {
    const report = await explain(files);
    const note = report.notes.find((n) => n.startsWith('None of'));
    assert.match(
      note ?? '',
      /^None of the 107 failure lines of .*nginx-error\.log met a request, and \d+ 5xx have no cause\. Their dates carry no zone and were read in TZ=Europe\/Paris, UTC\+01:00: /,
    );
  } finally {
    process.env.TZ = 'UTC';
  }
});
