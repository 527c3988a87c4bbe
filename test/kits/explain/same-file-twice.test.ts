/**
 * `candor explain` given one file twice (`access.log access.log*`, whose glob names access.log
 * again; a path and a link to it) read it twice and counted every request twice. It reads each
 * file once, and says on stderr which name it did not read again.
 */
import assert from 'node:assert/strict';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Report } from '../../../src/kits/explain/report.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { fixture, runExplain } from './explain-fixture.ts';

const requestsOf = (report: Report) => report.statuses.reduce((sum, s) => sum + s.count, 0);

test('one file given twice, by the same path or through a link, is read once', async () => {
  const log = fixture('candor.log');
  const once = await runExplain(['--json', log]);
  assert.equal(once.code, 0, once.stderr);
  const expected = requestsOf(JSON.parse(once.stdout) as Report);
  assert.ok(expected > 0);

  const link = join(tempDir('candor-explain-twice-'), 'current.log');
  symlinkSync(log, link);
  const twice = await runExplain(['--json', log, link, log]);
  assert.equal(twice.code, 0, twice.stderr);
  const report = JSON.parse(twice.stdout) as Report;
  assert.equal(requestsOf(report), expected, 'each request counted once');
  assert.deepEqual(
    report.files.map((f) => f.path),
    [log],
  );
  assert.equal(
    twice.stderr,
    [
      `candor: ${link} is ${log} again (the same file): read once, so that no request is counted twice`,
      `candor: ${log} is ${log} again (the same file): read once, so that no request is counted twice`,
      '',
    ].join('\n'),
  );
});
