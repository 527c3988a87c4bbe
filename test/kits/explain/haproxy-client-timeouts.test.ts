/**
 * HAProxy's termination state `c…` is its client-side timeout (`timeout client`,
 * `timeout http-request`), not a client that left (`C…`): HAProxy cut a client too slow to
 * send its request or to take the answer. Candor logs the same cut (a client that takes no
 * response bytes for `limits.send_timeout`) `http_request_error` with `client_aborted: false`
 * (docs/hostile-peers.md, "a client that stops reading"), and explain told `cD` and `cR` as
 * clients gone. Lines recorded from HAProxy 2.6.12 (Debian 12), `option httplog`,
 * `log stdout format raw`, `timeout client 1s`, `timeout http-request 1s`, in front of node
 * peers on loopback: a client that asked for 200 MB and read nothing (`cD--`), one that reset
 * 50 ms into that body (`CD--`), one that sent half a head and waited (`cR--`, 408), one that
 * sent half a head and closed (`CR--`, 400).
 */
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../helpers/temp-dir.ts';
import { explain, runExplain, typeCounts } from './explain-fixture.ts';

const LINES = [
  '127.0.0.1:47822 [01/Dec/2026:08:21:47.146] fe_main be_big/big1 0/0/0/0/1004 200 4213953 - - cD-- 1/1/0/0/0 0/0 "GET /big/cD HTTP/1.1"',
  '127.0.0.1:47836 [01/Dec/2026:08:21:51.148] fe_main be_big/big1 0/0/0/0/52 200 52026033 - - CD-- 2/2/0/0/0 0/0 "GET /big/CD HTTP/1.1"',
  '127.0.0.1:52454 [01/Dec/2026:08:21:51.502] fe_main fe_main/<NOSRV> -1/-1/-1/-1/1002 408 0 - - cR-- 1/1/0/0/0 0/0 "<BADREQ>"',
  '127.0.0.1:52464 [01/Dec/2026:08:21:57.503] fe_main fe_main/<NOSRV> -1/-1/-1/-1/201 400 0 - - CR-- 1/1/0/0/0 0/0 "<BADREQ>"',
];
const HTTPLOG =
  '%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r';

test("HAProxy's cD and cR are its client timeouts (http_request_error), not clients that left; CD and CR did leave", async (t) => {
  const dir = tempDir('candor-explain-haproxy-client-timeouts-');
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'haproxy.log');
  await writeFile(file, `${LINES.join('\n')}\n`);
  const report = await explain([file]);
  assert.deepEqual(typeCounts(report), { http_request_error: 3 });
  const error = report.shapes.flatMap((s) => s.types).find((t) => t.type === 'http_request_error');
  assert.deepEqual(error?.loggedStatuses, [
    { status: 200, count: 1 },
    { status: 400, count: 1 },
    { status: 408, count: 1 },
  ]);
  assert.equal(report.clientAborted, 2);
  assert.equal(report.clientAbortedMidAnswer, 1);

  // The same lines read through the httplog written as a log-format say the same.
  const { code, stdout } = await runExplain(['--json', '--log-format', HTTPLOG, file]);
  assert.equal(code, 0);
  const json = JSON.parse(stdout);
  assert.deepEqual(typeCounts(json), { http_request_error: 3 });
  assert.equal(json.clientAborted, 2);
  assert.equal(json.clientAbortedMidAnswer, 1);
});

test('a request HAProxy refused before choosing a backend (`fe_main/<NOSRV>`, its frontend written as %b) counts at no upstream ("-", as any line without one)', async (t) => {
  const dir = tempDir('candor-explain-haproxy-no-backend-');
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'haproxy.log');
  await writeFile(file, `${LINES.join('\n')}\n`);
  const report = await explain([file]);
  assert.deepEqual(
    report.upstreams.map((u) => u.name),
    ['be_big', '-'],
  );
  const { stdout } = await runExplain(['--json', '--log-format', HTTPLOG, file]);
  assert.deepEqual(
    JSON.parse(stdout).upstreams.map((u: { name: string }) => u.name),
    ['be_big', '-'],
  );
});

test("the lines of a log it does not read (an HAProxy tcplog frontend's, beside its httplog) are quoted in the Notes, not only counted", async (t) => {
  const dir = tempDir('candor-explain-haproxy-tcplog-');
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'haproxy.log');
  // A `mode tcp` frontend with `option tcplog` logging to the same place, its backend refusing (SC).
  const tcplog =
    '127.0.0.1:58642 [01/Dec/2026:08:22:03.515] fe_tcp bt_refused/t1 1/-1/3003 0 SC 1/1/0/0/3 0/0';
  const httplog = Array.from({ length: 10 }, () => LINES[1]);
  await writeFile(file, `${[...httplog, tcplog].join('\n')}\n`);
  const { code, stdout } = await runExplain([file]);
  assert.equal(code, 0);
  assert.match(stdout, /11 lines {2}10 parsed {2}1 skipped/);
  assert.ok(
    stdout.includes(`${file}: 1 line not read as haproxy. The first of them:\n      line 11: ${tcplog}`),
    stdout,
  );
  const json = await runExplain(['--json', file]);
  assert.deepEqual(JSON.parse(json.stdout).files[0].unread, [{ line: 11, text: tcplog }]);
});
