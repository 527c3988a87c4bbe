/**
 * A target on port 0: "any free port" to a listener, and no port to connect to, so every attempt
 * at it failed while `candor check` said ok. Refused with file, line and field.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../helpers/temp-dir.ts';
import { MINIMAL, problem, problemsOf } from './config-fixture.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');
const MESSAGE = (url: string) =>
  `expected a port from 1 to 65535, got "${url}" (port 0 is no port to connect to)`;

test('a target url on port 0 is refused at its line and field', () => {
  for (const url of ['http://127.0.0.1:0', 'https://api.internal:00', 'http://[::1]:0'])
    assert.deepEqual(problemsOf(MINIMAL.replace('http://127.0.0.1:3001', url)), [
      problem(8, 14, 'upstreams.api.targets[0].url', MESSAGE(url)),
    ]);
});

test('candor check exits 78 naming it', () => {
  const file = join(tempDir('candor-target-port-'), 'candor.yaml');
  writeFileSync(file, MINIMAL.replace('http://127.0.0.1:3001', 'http://127.0.0.1:0'));
  const run = spawnSync(process.execPath, [BIN, 'check', file], { encoding: 'utf8' });
  assert.equal(run.status, 78);
  assert.equal(
    run.stderr,
    `${file}:8:14  upstreams.api.targets[0].url: ${MESSAGE('http://127.0.0.1:0')}\n1 problem in ${file}\n`,
  );
});
