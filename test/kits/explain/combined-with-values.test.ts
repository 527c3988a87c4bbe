/**
 * An nginx access log in `combined` followed by values of the operator's own (`… "curl/8" 502
 * 0.001 127.0.0.1:27100 0.000`, a log_format that appends $upstream_status and timings without
 * names) is no format explain detects: the refusal says what the lines are and gives the
 * `--log-format` that reads them, and that format does read them.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../helpers/temp-dir.ts';
import { runExplain } from './explain-fixture.ts';

const dir = tempDir('candor-explain-');

const FORMAT =
  '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $upstream_status $request_time $upstream_addr $upstream_response_time';

test('combined followed by unnamed values is refused with the --log-format that reads it', async () => {
  const log = join(dir, 'access.log');
  writeFileSync(
    log,
    '10.0.0.1 - - [01/Dec/2026:08:00:00 +0000] "GET /api HTTP/1.1" 502 157 "-" "curl/8" 502 0.001 127.0.0.1:27100 0.000\n' +
      '10.0.0.1 - - [01/Dec/2026:08:00:01 +0000] "GET /api HTTP/1.1" 200 15 "-" "curl/8" 200 0.003 127.0.0.1:27100 0.002\n',
  );
  const refused = await runExplain([log]);
  assert.equal(refused.code, 65);
  assert.ok(
    refused.stderr.includes(
      `\nThese lines are nginx's combined format followed by 4 values of a log_format of your own (502 0.001 127.0.0.1:27100 0.000): give explain that log_format with --nginx-conf FILE, or as --log-format 'FORMAT'. Named from their shape (check them against yours): --log-format '${FORMAT}'\n`,
    ),
    refused.stderr,
  );
  const read = await runExplain(['--log-format', FORMAT, log]);
  assert.equal(read.code, 0, read.stderr);
  assert.match(read.stdout, /^ {2}127\.0\.0\.1:27100 +2 +1 /m);
});

test('a line that is not combined before its values gets no such hint', async () => {
  const log = join(dir, 'other.log');
  writeFileSync(log, 'just some notes 502 0.001\nnothing like a log 200 0.003\n');
  const refused = await runExplain([log]);
  assert.equal(refused.code, 65);
  assert.doesNotMatch(refused.stderr, /combined format followed by/);
});
