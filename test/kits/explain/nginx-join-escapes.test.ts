/**
 * nginx escapes a request line in its access log (`"`, `\` and bytes outside printable ASCII
 * as \xHH) but writes it raw in its error log: the join must see the same request in both.
 * The lines were written by the real nginx 1.22.1 (proxy_pass to a closed port; one request
 * with a quote in its query, one with a raw UTF-8 path, sent as is).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../helpers/temp-dir.ts';
import { explain, typeCounts } from './explain-fixture.ts';

const dir = tempDir('candor-explain-escapes-');
const write = (name: string, lines: readonly string[]) => {
  const path = join(dir, name);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
};

const ERRORS = write('error.log', [
  '2026/11/22 11:59:12 [error] 9157#9157: *29 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: , request: "GET /dead?q="x" HTTP/1.1", upstream: "http://127.0.0.1:18009/dead?q="x"", host: "127.0.0.1:18080"',
  '2026/11/22 11:59:12 [error] 9157#9157: *39 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: , request: "GET /dead/café HTTP/1.1", upstream: "http://127.0.0.1:18009/dead/café", host: "x"',
]);

test('combined: a request line with a quote or a UTF-8 byte joins its error line', async () => {
  const access = write('access.log', [
    '127.0.0.1 - - [22/Nov/2026:11:59:12 +0000] "GET /dead?q=\\x22x\\x22 HTTP/1.1" 502 157 "-" "curl/7.88.1"',
    '127.0.0.1 - - [22/Nov/2026:11:59:12 +0000] "GET /dead/caf\\xC3\\xA9 HTTP/1.1" 502 157 "-" "-"',
  ]);
  const report = await explain([access, ERRORS]);
  assert.deepEqual(typeCounts(report), { connection_refused: 2 });
  assert.equal(report.unexplained5xx, 0);
  assert.equal(report.failedAttempts, 0, 'no error line is left over as a failed attempt of its own');
});

test('a log_format: a request line with a quote or a UTF-8 byte joins its error line', async () => {
  const conf = write('nginx.conf', [
    "log_format tabs '$time_iso8601\\t$remote_addr\\t$request\\t$status\\t$upstream_addr\\t$upstream_status';",
  ]);
  const access = write('tabs.log', [
    '2026-11-22T11:59:12+00:00\t127.0.0.1\tGET /dead?q=\\x22x\\x22 HTTP/1.1\t502\t127.0.0.1:18009\t502',
    '2026-11-22T11:59:12+00:00\t127.0.0.1\tGET /dead/caf\\xC3\\xA9 HTTP/1.1\t502\t127.0.0.1:18009\t502',
  ]);
  const report = await explain([access, ERRORS], { conf });
  assert.deepEqual(typeCounts(report), { connection_refused: 2 });
  assert.equal(report.unexplained5xx, 0);
  assert.equal(report.failedAttempts, 0, 'no error line is left over as a failed attempt of its own');
});

test("a 502 no error line claims is not the upstream's own when nothing shows the upstream answered", async () => {
  // nginx writes its own 502 into $upstream_status too. The error log given does not cover the
  // next day (rotated away), or its level hides the line (error_log … crit): no line is no proof.
  const access = write('uncovered.log', [
    '127.0.0.1 - - [22/Nov/2026:11:00:00 +0000] "GET /a HTTP/1.1" 502 157 "-" "curl/8.0" us="502" ua="127.0.0.1:9"',
    '127.0.0.1 - - [23/Nov/2026:09:00:00 +0000] "GET /a HTTP/1.1" 502 157 "-" "curl/8.0" us="502" ua="127.0.0.1:9"',
    '127.0.0.1 - - [23/Nov/2026:09:00:01 +0000] "GET /b HTTP/1.1" 503 157 "-" "curl/8.0" us="503" ua="127.0.0.1:9"',
    '127.0.0.1 - - [23/Nov/2026:09:00:02 +0000] "GET /c HTTP/1.1" 502 157 "-" "curl/8.0" us="502" ua="127.0.0.1:9" uht="0.004"',
  ]);
  const errors = write('day1-error.log', [
    '2026/11/22 11:00:00 [error] 12#12: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: _, request: "GET /a HTTP/1.1", upstream: "http://127.0.0.1:9/a", host: "localhost"',
  ]);
  const report = await explain([access, errors]);
  assert.deepEqual(typeCounts(report), { connection_refused: 1 });
  // The 503 (nginx never writes its own 503 there) and the 502 whose head came are the upstream's.
  assert.deepEqual(report.errors5xx, { byProxy: 1, passedThrough: 2, cannotTell: 1 });
  assert.equal(report.unexplained5xx, 1);
});
