/**
 * A Candor log read for its warnings (a log shipper's filter on level ≥ warn, a `grep -v request`)
 * holds the lines a worker writes as its passive health moves, not one request line: a target
 * ejected, back in rotation, an upstream's circuit opened. `explain` read none of them and said
 * "Failures none" of a gateway whose circuit had opened (every request to the upstream answered
 * 503 meanwhile): they are the Health section's rows, and an open circuit is a failure.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../helpers/temp-dir.ts';
import { runExplain } from './explain-fixture.ts';

const dir = tempDir('candor-explain-breakers-');

// As report-outcome.ts and upstream-circuit.ts write them (pino, one JSON object a line).
const LINES = [
  '{"level":"warn","time":"2026-11-30T22:00:01.100Z","gateway":"edge-1","upstream":"app","target":"http://10.0.0.5:3001","reason":"connection_refused","until":"2026-11-30T22:00:31.100Z","for_ms":30000,"ejections":1,"msg":"target ejected"}',
  '{"level":"warn","time":"2026-11-30T22:00:01.400Z","gateway":"edge-1","upstream":"app","target":"http://10.0.0.6:3001","reason":"connection_refused","until":"2026-11-30T22:00:31.400Z","for_ms":30000,"ejections":1,"msg":"target ejected"}',
  '{"level":"warn","time":"2026-11-30T22:00:01.600Z","gateway":"edge-1","upstream":"app","reason":"connection_refused","by":"failures","until":"2026-11-30T22:00:06.600Z","for_ms":5000,"msg":"circuit opened"}',
  '{"level":"warn","time":"2026-11-30T22:00:06.700Z","gateway":"edge-1","upstream":"app","reason":"connection_refused","by":"probe","until":"2026-11-30T22:00:16.700Z","for_ms":10000,"msg":"circuit opened"}',
  '{"level":"info","time":"2026-11-30T22:00:32.000Z","gateway":"edge-1","upstream":"app","target":"http://10.0.0.5:3001","ejections":1,"by":"request","msg":"target back in rotation"}',
];

test("a log of ejections and circuit openings alone: the Health section has them, and the open circuit is a failure, not 'none'", async () => {
  const file = join(dir, 'warnings.log');
  writeFileSync(file, `${LINES.join('\n')}\n`);
  const { code, stdout, stderr } = await runExplain([file]);
  assert.equal(stderr, '');
  assert.equal(code, 0);
  assert.doesNotMatch(stdout, /Failures\n {2}none/);
  assert.match(stdout, /circuit opened \(the gateway's lines\) +2 .*app \(2\)/);
  assert.match(
    stdout,
    /app's circuit opened \(2 times\): every request to it got the gateway's 503 while it was open/,
  );
  assert.match(stdout, /http:\/\/10\.0\.0\.5:3001 +DOWN +1 .*ejected after connection_refused/);
  assert.match(stdout, /http:\/\/10\.0\.0\.5:3001 +UP +1 .*back in rotation \(by request\)/);
  assert.match(stdout, /app +circuit open +1 .*failures in a row: connection_refused/);
  assert.match(stdout, /app +circuit open +1 .*its probe failed: connection_refused/);
});
