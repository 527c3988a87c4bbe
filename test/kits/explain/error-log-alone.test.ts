/**
 * `candor explain` of an nginx error log alone (no access log beside it): its failed attempts
 * have no request and no status, so the text shows no "Statuses" heading over an empty table,
 * and still shows the attempts' failure types.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { renderText } from '../../../src/kits/explain/render-text.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { explain } from './explain-fixture.ts';

test('one nginx error-log line: no empty Statuses section, the failure told', async () => {
  const path = join(tempDir('candor-explain-error-'), 'error.log');
  writeFileSync(
    path,
    '2026/11/22 11:59:12 [error] 9157#9157: *29 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: , request: "GET /dead HTTP/1.1", upstream: "http://127.0.0.1:18009/dead", host: "127.0.0.1:18080"\n',
  );
  const report = await explain([path]);
  assert.equal(report.requests, 0);
  assert.equal(report.failedAttempts, 1);
  const text = renderText(report);
  assert.doesNotMatch(text, /^Statuses$/m, text);
  assert.match(text, /^candor explain: 0 requests and 1 failed attempt,/, text);
  assert.match(text, /connection_refused/, text);
});
