/**
 * The advice fits what the log says (issue 32, item 7): a proxy's deliberate 404 (HAProxy's
 * termination state P, `http-request deny deny_status 404`) is typed as a denial, but it is
 * not told to "wait for the time in Retry-After", the fix of a rate limit's 429.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { renderText } from '../../../src/kits/explain/render-text.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { explain } from './explain-fixture.ts';

const line = (n: number, status: number) =>
  `<134>Nov 21 13:11:0${n} haproxy[2814]: 127.0.0.1:5203${n} [21/Nov/2026:13:11:0${n}.590] fe_main fe_main/<NOSRV> 0/-1/-1/-1/0 ${status} 0 - - PR-- 1/1/0/0/0 0/0 "GET /private/${n} HTTP/1.1"`;

function logOf(statuses: number[]): string {
  const dir = tempDir('candor-advice-');
  const path = join(dir, 'haproxy.log');
  writeFileSync(path, `${statuses.map((status, n) => line(n, status)).join('\n')}\n`);
  return path;
}

test("a proxy's deliberate 404s are not told to wait for Retry-After", async () => {
  const report = await explain([logOf([404, 404, 404])]);
  const gateway = report.shapes.find((s) => s.shape === 'gateway');
  assert.equal(gateway?.types[0].type, 'http_request_denied');
  assert.doesNotMatch(gateway.firstCheck, /Retry-After/);
  assert.match(gateway.firstCheck, /logged as 404, not a rate limit's 429/);
  assert.doesNotMatch(renderText(report), /Retry-After/);
});

test("a proxy's 429s keep the failure table's advice", async () => {
  const report = await explain([logOf([429, 429])]);
  const gateway = report.shapes.find((s) => s.shape === 'gateway');
  assert.equal(gateway?.types[0].type, 'http_request_denied');
  assert.match(gateway.firstCheck, /wait for the time in Retry-After/);
});
