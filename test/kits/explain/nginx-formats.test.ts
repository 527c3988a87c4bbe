/**
 * nginx in any `log_format` (--nginx-conf, --log-format), ingress-nginx's `upstreaminfo`, and
 * the join of error lines with their requests, on logs recorded from real nginx
 * (fixtures/record-nginx-formats.ts): bursts of identical `GET /refused/` 502s within one
 * second from three clients interleaved, three more 1.1 s apart, a group retried to a second
 * server (200), a group of two refusing servers (502), an upstream's own 503 twice, a hang (504).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatsFor, parseNginxConf } from '../../../src/kits/explain/nginx-conf.ts';
import { ingressNginxReader, UPSTREAMINFO } from '../../../src/kits/explain/readers/ingress-nginx-reader.ts';
import { nginxAccessReader } from '../../../src/kits/explain/readers/nginx-access-reader.ts';
import { compileFormat, nginxFormatReader } from '../../../src/kits/explain/readers/nginx-log-format.ts';
import type { Report } from '../../../src/kits/explain/report.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { explain, fixture, lines, runExplain, typeCounts } from './explain-fixture.ts';

const dir = tempDir('candor-explain-nginx-');
const CONF = fixture('nginx-formats.conf');
const ERRORS = fixture('nginx-burst-error.log');

function write(name: string, text: string[]): string {
  const path = join(dir, name);
  writeFileSync(path, `${text.join('\n')}\n`);
  return path;
}

/** The recorded lines of one client's requests (access) or failures (error) for `GET /refused/` in one second. */
const refused = (file: string, client: string, second: string) =>
  lines(file).filter(
    (l) =>
      l.includes('/refused/ HTTP') &&
      l.includes(second) &&
      (l.startsWith(`${client} `) || l.includes(`client: ${client},`)),
  );

test('three identical 502s within one second: each meets its own error line (one before, two "upstream\'s own")', async () => {
  const access = write('burst-access.log', refused('nginx-burst-access.log', '127.0.0.1', ':11:19:32 '));
  const error = write('burst-error.log', refused('nginx-burst-error.log', '127.0.0.1', ' 11:19:32 '));
  assert.equal(lines('nginx-burst-access.log').length, 20);
  const report = await explain([access, error]);
  assert.equal(report.requests, 3);
  assert.deepEqual(typeCounts(report), { connection_refused: 3 });
  assert.equal(report.failedAttempts, 0, 'no retry that never happened');
  assert.equal(report.upstreamOwn5xx, 0);
  assert.equal(report.unexplained5xx, 0);
  assert.deepEqual(report.errors5xx, { byProxy: 3, passedThrough: 0, cannotTell: 0 });
});

test('the same three spread 1.1 s apart: all three matched', async () => {
  const access = lines('nginx-burst-access.log').filter((l) => /:11:19:3[345] .*\/refused\//.test(l));
  const error = lines('nginx-burst-error.log').filter((l) => / 11:19:3[345] .*\/refused\//.test(l));
  assert.equal(access.length, 3);
  const report = await explain([write('spread-access.log', access), write('spread-error.log', error)]);
  assert.deepEqual(typeCounts(report), { connection_refused: 3 });
  assert.equal(report.failedAttempts, 0);
  assert.deepEqual(report.errors5xx, { byProxy: 3, passedThrough: 0, cannotTell: 0 });
});

test('"combined" and the error log: bursts from three clients interleaved, every 502 takes its own cause', async () => {
  const report = await explain([fixture('nginx-burst-access.log'), ERRORS]);
  assert.deepEqual(typeCounts(report), { connection_refused: 12, http_response_timeout: 1 });
  const type = report.shapes[0].types[0];
  // 6 in the burst, 3 spread, the down group: 10 requests; the flaky and down groups' first attempts retried.
  assert.deepEqual(
    [type.requests, type.attempts, type.loggedStatuses],
    [10, 2, [{ status: 502, count: 10 }]],
  );
  assert.equal(report.failedAttempts, 2);
  // The own503 upstream's 503s: "combined" has no $upstream_status, so nobody's word says who made them.
  assert.equal(report.upstreamOwn5xx, 0);
  assert.equal(report.unexplained5xx, 2);
  assert.deepEqual(report.errors5xx, { byProxy: 11, passedThrough: 0, cannotTell: 2 });
});

test('a custom log_format read through --nginx-conf: the whole report', async () => {
  const { code, stdout, stderr } = await runExplain([
    '--nginx-conf',
    CONF,
    'test/kits/explain/fixtures/nginx-custom.log',
    'test/kits/explain/fixtures/nginx-burst-error.log',
  ]);
  assert.equal(code, 0, stderr);
  assert.equal(stdout, EXPECTED_CUSTOM);
});

test('--log-format with the same string reads the same report', async () => {
  const format = parseNginxConf(`${readConf()}`).formats.find((f) => f.name === 'edge')?.text as string;
  const viaString = await runExplain(['--json', '--log-format', format, fixture('nginx-custom.log'), ERRORS]);
  const viaConf = await runExplain(['--json', '--nginx-conf', CONF, fixture('nginx-custom.log'), ERRORS]);
  assert.equal(viaString.code, 0, viaString.stderr);
  const [a, b] = [viaString, viaConf].map((r) => JSON.parse(r.stdout) as Report);
  assert.equal(a.files[0].format, 'nginx-custom');
  assert.equal(b.files[0].format, 'nginx:edge');
  assert.deepEqual({ ...a, files: [] }, { ...b, files: [] });
});

test('a JSON log_format (escape=json, $msec) is picked from the config by content; alone, a 5xx with a head from the upstream cannot be told', async () => {
  const alone = await explain([fixture('nginx-custom-json.log')], { conf: CONF });
  assert.equal(alone.files[0].format, 'nginx:jsonlog');
  // No response head ($upstream_header_time "-"): nginx's own, certainly; the own503's 503s
  // came with a head whose status nginx also writes for itself: not without the error log.
  assert.deepEqual(alone.errors5xx, { byProxy: 11, passedThrough: 0, cannotTell: 2 });
  assert.match(
    alone.notes.join('\n'),
    /nginx writes its own status into \$upstream_status when it got no answer/,
  );
  const joined = await explain([fixture('nginx-custom-json.log'), ERRORS], { conf: CONF });
  assert.deepEqual(typeCounts(joined), { connection_refused: 12, http_response_timeout: 1 });
  assert.deepEqual(joined.errors5xx, { byProxy: 11, passedThrough: 2, cannotTell: 0 });
});

test("ingress-nginx's upstreaminfo is detected from its lines: upstream names, request ids, retries", async () => {
  const report = await explain([fixture('ingress-nginx.log'), ERRORS]);
  assert.equal(report.files[0].format, 'ingress-nginx');
  assert.deepEqual(typeCounts(report), { connection_refused: 12, http_response_timeout: 1 });
  assert.deepEqual(
    report.upstreams.map((u) => [u.name, u.requests, u.errors5xx, u.failures]),
    [
      ['default-refused-80', 9, 9, 9],
      ['default-down-80', 1, 1, 2], // both servers refused: one retried attempt, one answer
      ['default-own503-80', 2, 2, 0],
      ['default-hang-80', 1, 1, 1],
      ['default-flaky-80', 1, 0, 1], // the first server refused, the second answered
      ['default-healthy-80', 6, 0, 0],
    ],
  );
  assert.deepEqual(report.errors5xx, { byProxy: 11, passedThrough: 2, cannotTell: 0 });
  const flaky = lines('ingress-nginx.log').find((l) => l.includes('/flaky/')) as string;
  const record = ingressNginxReader.read(flaky);
  assert.ok(record?.kind === 'request');
  assert.deepEqual(
    [record.status, record.upstream, record.attempts, record.requestId?.length],
    [200, 'default-flaky-80', 2, 32],
  );
  assert.match(
    UPSTREAMINFO,
    /\[\$proxy_upstream_name\] \[\$proxy_alternative_upstream_name\] \$upstream_addr /,
  );
});

test('"combined" with quoted strings or key=value pairs after it stays nginx-access; anything else does not', () => {
  const combined = lines('nginx-burst-access.log')[3];
  // The nginx image's "main": combined, then "$http_x_forwarded_for".
  assert.equal(nginxAccessReader.sniff(`${combined} "10.1.1.1"`), true);
  assert.equal(nginxAccessReader.sniff(`${combined} rt=0.001 ua="10.0.0.5:80, 10.0.0.6:80"`), true);
  assert.equal(nginxAccessReader.sniff(lines('ingress-nginx.log')[3]), false);
  assert.equal(nginxAccessReader.sniff(`${combined} 0.001`), false);
});

test('the nginx config: multi-part formats, escape=, comments, and which access_log writes which file', () => {
  const config = parseNginxConf(`
    http {
      # log_format commented '$nothing';
      log_format main '$remote_addr [$time_local] '
                      "\\"$request\\" $status" ;
      log_format j escape=json '{"s":$status,"t":"$msec"}';
      access_log /var/log/nginx/access.log main buffer=32k;
      access_log /var/log/nginx/plain.log;
      access_log off;
    }`);
  assert.deepEqual(config.formats, [
    { name: 'main', escape: 'default', text: '$remote_addr [$time_local] "$request" $status' },
    { name: 'j', escape: 'json', text: '{"s":$status,"t":"$msec"}' },
  ]);
  assert.deepEqual(config.accessLogs, [
    { path: '/var/log/nginx/access.log', format: 'main' },
    { path: '/var/log/nginx/plain.log', format: 'combined' },
  ]);
  assert.deepEqual(
    formatsFor(config, '/tmp/copy/access.log.2.gz').map((f) => f.name),
    ['main', 'j'],
    'by file name, past a rotation suffix',
  );
  assert.deepEqual(
    formatsFor(config, 'plain.log').map((f) => f.name),
    ['main', 'j'],
    '"combined" is the built-in reader\'s',
  );
});

// nginx's own "${var}" syntax, in plain strings on purpose.
const BRACED = (name: string) => ['$', '{', name, '}'].join('');

test('a compiled format: braced variables, literal text, escaped quotes, lists of attempts', () => {
  const reader = nginxFormatReader(
    {
      name: 't',
      escape: 'default',
      text: `${BRACED('remote_addr')}|$msec|"$request"|$status|$upstream_addr|$upstream_status|$upstream_header_time`,
    },
    'nginx:t',
    't',
  );
  assert.deepEqual(compileFormat({ name: 't', escape: 'default', text: `a${BRACED('status')}b` }).names, [
    'status',
  ]);
  const record = reader.read(
    '10.0.0.1|1795346372.172|"GET /a\\x22b HTTP/1.1"|502|10.0.0.5:80, 10.0.0.6:80 : 10.0.0.7:80|502, 502 : 502|-, - : 0.012',
  );
  assert.deepEqual(record, {
    kind: 'request',
    time: 1795346372172,
    status: 502,
    upstream: '10.0.0.7:80',
    target: '10.0.0.7:80',
    joinKey: '10.0.0.1 GET /a"b HTTP/1.1',
    requestId: undefined,
    waitMs: 12,
    failure: undefined,
    clientAborted: undefined,
    producedBy: 'upstream', // a head came, with the status: the upstream's, unless the error log says otherwise
    attempts: 3,
  });
  const noHead = reader.read('10.0.0.1|1795346372.172|"GET / HTTP/1.1"|502|10.0.0.5:80|502|-');
  assert.equal(noHead?.kind === 'request' && noHead.producedBy, 'proxy', 'no head from the upstream');
  const connectOnly = nginxFormatReader(
    {
      name: 'c',
      escape: 'default',
      text: '$msec $status $upstream_addr $upstream_status $upstream_connect_time',
    },
    'nginx:c',
    'c',
  );
  const never = connectOnly.read('1795346372.172 502 10.0.0.5:80 502 -');
  assert.equal(never?.kind === 'request' && never.producedBy, 'proxy', 'the request never went out');
  const sent = connectOnly.read('1795346372.172 503 10.0.0.5:80 503 0.001');
  assert.equal(sent?.kind === 'request' && sent.producedBy, 'upstream');
  const own = reader.read('10.0.0.1|1795346372.172|"GET / HTTP/1.1"|503|-|-|-');
  assert.equal(
    own?.kind === 'request' && own.producedBy,
    'proxy',
    'no upstream tried: nginx answered itself',
  );
  assert.equal(
    reader.sniff('10.0.0.1 - - [22/Nov/2026:11:19:32 +0000] "GET / HTTP/1.1" 200 0 "-" "-"'),
    false,
  );
});

test('--nginx-conf and --log-format errors are usage errors', async () => {
  const missing = await runExplain(['--nginx-conf', join(dir, 'nope.conf'), fixture('nginx-custom.log')]);
  assert.equal(missing.code, 64);
  assert.match(missing.stderr, /cannot read \S*nope\.conf: no such file/);
  const noStatus = await runExplain([
    '--log-format',
    '$remote_addr [$time_local]',
    fixture('nginx-custom.log'),
  ]);
  assert.equal(noStatus.code, 64);
  assert.match(noStatus.stderr, /--log-format: the format has no \$status: explain cannot read it/);
  const both = await runExplain([
    '--log-format',
    '$status $msec',
    '--nginx-conf',
    CONF,
    fixture('nginx-custom.log'),
  ]);
  assert.equal(both.code, 64);
  const unclosed = write('bad.conf', ["log_format x '$status"]);
  const bad = await runExplain(['--nginx-conf', unclosed, fixture('nginx-custom.log')]);
  assert.equal(bad.code, 64);
  assert.match(bad.stderr, /unterminated ' string/);
});

function readConf(): string {
  return lines('nginx-formats.conf').join('\n');
}

const EXPECTED_CUSTOM = `candor explain: 20 requests and 2 failed attempts, 2026-11-22 11:19:32.0 → 11:19:37.0 UTC (5.00 s)
  test/kits/explain/fixtures/nginx-custom.log       nginx:edge   20 lines  20 parsed  0 skipped  20 records
  test/kits/explain/fixtures/nginx-burst-error.log  nginx-error  29 lines  29 parsed  0 skipped  13 records

Statuses
  200   7  35.0%
  502  10  50.0%
  503   2  10.0%
  504   1   5.0%

Failures by shape and type
                                          count  status  logged as         where
  unreachable: the upstream is not there     12
    connection_refused                       12     502  502×10 attempt×2  127.0.0.1:36463 (11), 127.0.0.1:46583 (1)
  slow: the upstream is too slow              1
    http_response_timeout                     1     504  504×1             127.0.0.1:33017 (1)
  upstream's own 5xx, passed through          2

Who made the 5xx
                                                           made by the proxy  passed through from the upstream  cannot tell
  test/kits/explain/fixtures/nginx-custom.log  nginx:edge                 11                                 2            0

Upstreams
                   requests  5xx  failures  first       last        mostly
  127.0.0.1:36463         9    9        11  11:19:32.0  11:19:36.0  connection_refused
  127.0.0.1:39759         9    2         0  11:19:36.0  11:19:36.0
  127.0.0.1:46583         1    1         1  11:19:36.0  11:19:36.0  connection_refused
  127.0.0.1:33017         1    1         1  11:19:37.0  11:19:37.0  http_response_timeout

Storms (buckets of 1 s)
  none: no upstream's 5xx rose well above its usual rate

Timeouts
  127.0.0.1:33017: 1 request timed out waiting for the response head
    they all waited 1002 ms: a timeout of about 1.00 s cut them
    the upstream answered nothing in these logs: it hangs; the timeout is not the problem, what the upstream waits on is

What to check first
  unreachable (12): the upstream is not there
    likely: nothing is listening at the upstream address: the connection was refused
    check:  Start the upstream process, or fix the port in the target URL.
  slow (1): the upstream is too slow
    likely: the upstream accepted the request but sent no response within the timeout
    check:  Find what the upstream is waiting on (a slow query, CPU starvation, a lock); raise the route's response timeout only if the work is legitimately that slow.
  upstream's own 5xx (2): the gateway passed the upstream's answer through
    check:  the upstream's own logs at these times

Notes
  - nginx writes its own status into $upstream_status when it got no answer (502, 504): a 5xx is the upstream's own only when the error log, read with it, has no line for the request; without the error log nginx's 5xx cannot be told from the upstream's.
  - nginx's error log has no durations and no zone in its dates (read as local time: set TZ to match).
`;

test('combined with ua=/us=/uht= after an internal redirect ("a : b", error_page to a second upstream): the last attempt is the target', async () => {
  // Recorded from nginx 1.22: `/redir2` refused by [::1]:18489, then error_page 502 = /fallback2,
  // refused by [::1]:18488; `/redir` refused, then answered 200 by [::1]:18483. nginx joins
  // the attempts of two locations with " : ", those of one with ", ".
  const access = write('redirect-access.log', [
    '::1 - - [30/Nov/2026:22:49:52 +0000] "GET /redir2 HTTP/1.1" 502 157 "-" "curl/7.88.1" uht="- : -" ua="[::1]:18489 : [::1]:18488" us="502 : 502"',
    '::1 - - [30/Nov/2026:22:49:52 +0000] "GET /redir HTTP/1.1" 200 139 "-" "curl/7.88.1" uht="- : 0.001" ua="[::1]:18489 : [::1]:18483" us="502 : 200"',
    '127.0.0.1 - - [30/Nov/2026:22:49:53 +0000] "GET /redir HTTP/1.1" 200 139 "-" "curl/7.88.1" uht="-, - : 0.002" ua="10.0.0.5:80, 10.0.0.6:80 : 10.0.0.7:80" us="502, 502 : 200"',
  ]);
  const last = nginxAccessReader.read(
    '::1 - - [30/Nov/2026:22:49:52 +0000] "GET /redir HTTP/1.1" 200 139 "-" "curl/7.88.1" uht="- : 0.001" ua="[::1]:18489 : [::1]:18483" us="502 : 200"',
  );
  assert.equal(last?.kind, 'request');
  assert.deepEqual(last?.kind === 'request' ? [last.upstream, last.target, last.waitMs, last.attempts] : [], [
    '[::1]:18483',
    '[::1]:18483',
    1,
    2,
  ]);
  const report = await explain([access]);
  assert.deepEqual(report.upstreams.map((u) => u.name).sort(), ['10.0.0.7:80', '[::1]:18483', '[::1]:18488']);
});
