/**
 * HAProxy with a custom `log-format` (issue 24, item 15): read with --haproxy-conf or
 * --log-format, HAProxy's stderr health lines beside its access lines kept on the timeline.
 * haproxy-log-format.log is recorded from the real binary with haproxy-log-format.cfg
 * (fixtures/record-haproxy-log-format.ts): `docker logs -t` of a HAProxy whose app server went
 * away for three seconds. The same lines rewritten in `option httplog` must tell the same story.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseHaproxyConf } from '../../../src/kits/explain/haproxy-conf.ts';
import { unreadableHaproxy } from '../../../src/kits/explain/readers/haproxy-format.ts';
import { haproxyFormatReader } from '../../../src/kits/explain/readers/haproxy-log-format.ts';
import type { Report } from '../../../src/kits/explain/report.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { fixture, lines, runExplain } from './explain-fixture.ts';

const dir = tempDir('candor-explain-haproxy-format-');
const CONF = fixture('haproxy-log-format.cfg');
const LOG = fixture('haproxy-log-format.log');
const [FORMAT] = parseHaproxyConf(lines('haproxy-log-format.cfg').join('\n'), CONF);

async function json(args: string[]): Promise<Report> {
  const { code, stdout, stderr } = await runExplain(['--json', ...args]);
  assert.equal(code, 0, stderr);
  return JSON.parse(stdout) as Report;
}

/** The recorded access lines as `option httplog` writes the same values (counters unrecorded: 0). */
function asHttplog(line: string): string {
  const m =
    /^(\S+) (\S+) \[(\S+) \+0000\] (\S+) (\S+) (\S+) (\S+) (\S+) Tw=(\S+) Tc=(\S+) Tr=(\S+) Ta=(\S+) TR=(\S+) rc=(\S+) ("[^"]*") ua="[^"]*"$/.exec(
      line,
    );
  if (!m) return line;
  const [, stamp, client, date, fe, server, status, bytes, tsc, tw, tc, tr, ta, tR, rc, request] = m;
  return `${stamp} ${client} [${date}.000] ${fe} ${server} ${tR}/${tw}/${tc}/${tr}/${ta} ${status} ${bytes} - - ${tsc} 0/0/0/0/${rc} 0/0 ${request}`;
}

test('the config read: its log-format, quoted as HAProxy reads it', () => {
  assert.equal(FORMAT.name, 'defaults');
  assert.equal(
    FORMAT.text,
    '%ci:%cp [%trg] %ft %b/%s %ST %B %tsc Tw=%Tw Tc=%Tc Tr=%Tr Ta=%Ta TR=%TR rc=%rc %{+Q}r ua=%{+Q}[capture.req.hdr(0)]',
  );
});

test('--haproxy-conf reads the recorded mix of access and health lines: the story of the same lines in option httplog', async () => {
  const custom = await json(['--haproxy-conf', CONF, LOG]);
  assert.equal(custom.files[0].format, 'haproxy:defaults');
  assert.equal(custom.files[0].skipped, 0);
  assert.equal(custom.files[0].parsed, lines('haproxy-log-format.log').length);

  const httplog = join(dir, 'httplog.log');
  writeFileSync(httplog, `${lines('haproxy-log-format.log').map(asHttplog).join('\n')}\n`);
  const builtIn = await json([httplog]);
  assert.equal(builtIn.files[0].format, 'haproxy-stderr');
  for (const key of [
    'requests',
    'statuses',
    'shapes',
    'errors5xx',
    'upstreams',
    'targets',
    'health',
    'untypedRetries',
  ] as const)
    assert.deepEqual(custom[key], builtIn[key], key);
  const stormsOf = (r: Report) => r.storms.map((s) => [s.upstream, s.errors, s.health.map((h) => h.state)]);
  assert.deepEqual(stormsOf(custom), stormsOf(builtIn));
  assert.deepEqual(custom.timeouts, builtIn.timeouts);

  // What the recording holds, counted from its raw lines.
  const raw = lines('haproxy-log-format.log');
  const count = (re: RegExp) => raw.filter((l) => re.test(l)).length;
  assert.equal(custom.requests, count(/ fe_main be_/));
  assert.equal(custom.health.events, 5);
  assert.ok(custom.storms.some((s) => s.upstream === 'be_app' && s.health.some((h) => h.state === 'down')));
  const types = Object.fromEntries(custom.shapes.flatMap((s) => s.types.map((t) => [t.type, t.count])));
  assert.equal(types.connection_refused, count(/ SC-- .* rc=2 /));
  assert.equal(types.http_response_timeout, count(/ 504 .* sH-- /));
  assert.equal(types.destination_unavailable, count(/<NOSRV> 503 /));
  // %rc: the retried attempts, which HAProxy does not name (httplog's copy of them too).
  assert.equal(custom.untypedRetries, 2 * count(/ rc=2 /));
  assert.ok(custom.untypedRetries > 0);
});

test('--log-format with the same string reads the file as --haproxy-conf does', async () => {
  const viaConf = await json(['--haproxy-conf', CONF, LOG]);
  const viaFormat = await json(['--log-format', FORMAT.text, LOG]);
  assert.equal(viaFormat.files[0].format, 'haproxy-custom');
  for (const key of [
    'requests',
    'statuses',
    'shapes',
    'upstreams',
    'health',
    'storms',
    'untypedRetries',
  ] as const)
    assert.deepEqual(viaFormat[key], viaConf[key], key);
});

test('the text report names the format and keeps the health lines on the storm', async () => {
  const { code, stdout, stderr } = await runExplain(['--haproxy-conf', CONF, LOG]);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /haproxy-log-format\.log +haproxy:defaults +202 lines +202 parsed +0 skipped/);
  assert.match(
    stdout,
    /\n {4}be_app\/app1 DOWN \d+ ms into it \(19:22:43\.7\): Layer4 connection problem \(Connection refused\)\n/,
  );
});

const reader = (text: string) => haproxyFormatReader({ name: 't', text }, 'haproxy:t', 't');

test('fields as HAProxy writes them: IPv6 clients, empty captures, hex and epoch dates, syslog and journald stamps', () => {
  const httplog = reader(
    '%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r',
  );
  // No capture declared: %hr and %hs write nothing, and their separators collapse into one.
  const v6 = httplog.read(
    '::1:52140 [21/Nov/2026:13:11:00.596] fe_main be_api/api2 0/0/1/-1/1001 504 198 - - sH-- 1/1/0/0/0 0/0 "GET /a HTTP/1.1"',
  );
  assert.deepEqual(v6, {
    kind: 'request',
    time: Date.UTC(2026, 10, 21, 13, 11, 0, 596),
    status: 504,
    upstream: 'be_api',
    target: 'be_api/api2',
    failure: 'http_response_timeout',
    waitMs: 1000,
    clientAborted: undefined,
    producedBy: 'proxy',
    untypedRetries: undefined,
    requestId: undefined,
  });
  // The tcplog-era timers: Tt less Tq, Tw and Tc.
  const older = reader('%ci:%cp [%t] %b/%s %Tq/%Tw/%Tc/%Tr/%Tt %ST %tsc');
  const waited = older.read('10.0.0.1:1 [21/Nov/2026:13:11:00.596] be/s1 5/0/1/-1/1507 504 sH--');
  assert.equal(waited?.kind === 'request' && waited.waitMs, 1501);
  const captured = httplog.read(
    '10.0.0.1:1 [21/Nov/2026:13:11:00.596] fe be/s1 0/0/0/12/12 200 5 - - ---- 1/1/0/0/0 0/0 {example.com|curl} {} "GET / HTTP/1.1"',
  );
  assert.equal(captured?.kind === 'request' && captured.waitMs, 12);

  const epoch = reader('%{+X}Ts.%ms %ST %b/%s %tsc %{+Q}ID');
  const line = `${(Date.UTC(2026, 10, 21, 13, 11, 0) / 1000).toString(16).toUpperCase()}.250 503 be/<NOSRV> SC-- "abc-1"`;
  const record = epoch.read(line);
  assert.equal(record?.time, Date.UTC(2026, 10, 21, 13, 11, 0, 250));
  assert.equal(record?.kind === 'request' && record.failure, 'destination_unavailable');
  assert.equal(record?.kind === 'request' && record.requestId, 'abc-1');

  // No date in the format: the stamp's time (syslog's has no year, journald's short-iso has one).
  const dateless = reader('%ST %b/%s %tsc');
  assert.equal(
    dateless.read('2026-11-21T13:11:05+0000 host haproxy[2814]: 503 be/s1 SC--')?.time,
    Date.UTC(2026, 10, 21, 13, 11, 5),
  );
  assert.equal(dateless.read('<134>Nov 21 13:11:05 haproxy[2814]: 200 be/s1 ----')?.kind, 'request');
  // And with no stamp either: read without a timeline (LogRecord.time).
  assert.ok(Number.isNaN(dateless.read('200 be/s1 ----')?.time));
  assert.equal(dateless.read('200 be/s1'), undefined);
  assert.equal(dateless.sniff('200 be/s1 ---- trailing'), false);
});

test('a date-less log-format without stamps: counts and causes, no timeline', async () => {
  const file = join(dir, 'dateless.log');
  writeFileSync(
    file,
    `${lines('haproxy-log-format.log')
      .filter((l) => l.includes(' fe_main be_'))
      .map((l) => l.replace(/^\S+ (\S+) \[[^\]]+\] /, '$1 '))
      .join('\n')}\n`,
  );
  const text = FORMAT.text.replace(' [%trg]', '');
  const report = await json(['--log-format', text, file]);
  const timed = await json(['--log-format', FORMAT.text, LOG]);
  assert.equal(report.untimed, report.requests);
  for (const key of ['requests', 'statuses', 'shapes', 'errors5xx'] as const)
    assert.deepEqual(report[key], timed[key], key);
  assert.deepEqual(report.storms, []);
});

test('HAProxy config and format errors are usage errors naming what is wrong', async () => {
  const badTag = await runExplain(['--log-format', '%ci %ST %Xz', LOG]);
  assert.equal(badTag.code, 64);
  assert.match(badTag.stderr, /--log-format: the format: no such format tag '%Xz'/);
  const noStatus = await runExplain(['--log-format', '%ci [%tr] %b/%s', LOG]);
  assert.equal(noStatus.code, 64);
  assert.match(noStatus.stderr, /the format has no %ST \(the status\): explain cannot read it/);
  assert.match(
    unreadableHaproxy({ name: 'x', text: '%ST %b%s' }) ?? '',
    /writes %b%s with nothing between them/,
  );
  assert.equal(unreadableHaproxy({ name: 'x', text: '[%tr]%ST %tsc%b' }), undefined);

  const unquoted = join(dir, 'unquoted.cfg');
  writeFileSync(unquoted, 'defaults\n  mode http\n  log-format %ci [%tr] %ST\n');
  const wrong = await runExplain(['--haproxy-conf', unquoted, LOG]);
  assert.equal(wrong.code, 64);
  assert.match(
    wrong.stderr,
    /unquoted\.cfg:3: log-format expects one argument \(quote the format, or escape its spaces\), got 3/,
  );
  // A config with option httplog alone sets no format: its lines are the built-in reader's.
  const plain = join(dir, 'plain.cfg');
  writeFileSync(plain, 'defaults\n  mode http\n  option httplog\n');
  const httplog = await json(['--haproxy-conf', plain, fixture('haproxy.log')]);
  assert.equal(httplog.files[0].format, 'haproxy');
  const both = await runExplain(['--haproxy-conf', CONF, '--log-format', '%ST', LOG]);
  assert.equal(both.code, 64);
});

test('the config: escaped spaces, single quotes, comments, sections, option httplog clf', () => {
  const formats = parseHaproxyConf(
    [
      'global',
      '  log stdout format raw local0 # comment',
      'defaults',
      '  log-format %ci\\ [%tr]\\ %ST\\ %b/%s\\ %tsc',
      'frontend fe_a',
      '  log-format \'%ci "%ST" # not a comment\'',
      'frontend fe_b',
      '  option httplog clf',
      'listen same',
      '  log-format "%ci [%tr] %ST %b/%s %tsc"',
    ].join('\n'),
    'h.cfg',
  );
  assert.deepEqual(
    formats.map((f) => [f.name, f.text]),
    [
      ['defaults', '%ci [%tr] %ST %b/%s %tsc'],
      ['frontend fe_a', '%ci "%ST" # not a comment'],
      [
        'frontend fe_b (option httplog clf)',
        '%{+Q}o %{-Q}ci - - [%trg] %r %ST %B "" "" %cp %ms %ft %b %s %TR %Tw %Tc %Tr %Ta %tsc %ac %fc %bc %sc %rc %sq %bq %CC %CS %hrl %hsl',
      ],
    ],
  );
  // option httplog clf: every string quoted but the client's address.
  const clf = haproxyFormatReader(formats[2], 'haproxy:clf', 'clf');
  const record = clf.read(
    '10.0.0.1 - - [21/Nov/2026:13:11:00 +0000] "GET /a HTTP/1.1" 503 217 "" "" 52140 596 "fe" "be" "<NOSRV>" 0 -1 -1 -1 0 "SC--" 1 1 0 0 0 0 0 "" "" ',
  );
  assert.equal(record?.kind === 'request' && record.failure, 'destination_unavailable');
  assert.equal(record?.time, Date.UTC(2026, 10, 21, 13, 11, 0));
});
