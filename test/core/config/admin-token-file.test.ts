/**
 * An admin token file anyone but its owner can read (or write) is refused when the config is
 * loaded, as a config error naming the file and its mode: whoever reads the token controls
 * the gateway. `candor check` says the same, with the file, line and field.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ConfigError } from '../../../src/core/config/config-error.ts';
import { loadConfigFile } from '../../../src/core/config/load.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const dir = tempDir('candor-token-');
after(() => rmSync(dir, { recursive: true, force: true }));
const token = join(dir, 'admin-token');
const config = join(dir, 'candor.yaml');
writeFileSync(token, 'a-token-of-thirty-two-characters\n');
writeFileSync(
  config,
  `listen:
  - address: 127.0.0.1:0
admin:
  token_file: admin-token
routes:
  - upstream: app
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:9
`,
);

async function problemWith(mode: number): Promise<string | undefined> {
  chmodSync(token, mode);
  try {
    await loadConfigFile(config, {});
    return undefined;
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.problems.length, 1);
    const [problem] = error.problems;
    assert.equal(problem.path, 'admin.token_file');
    assert.equal(problem.line, 4);
    return problem.message;
  }
}

test('a token file only its owner can read is accepted (0600, 0400)', {
  skip: process.platform === 'win32',
}, async () => {
  assert.equal(await problemWith(0o600), undefined);
  assert.equal(await problemWith(0o400), undefined);
});

test('a token file readable or writable by group or others is refused, naming the file and its mode', {
  skip: process.platform === 'win32',
}, async () => {
  assert.equal(
    await problemWith(0o644),
    `${JSON.stringify(token)} can be read by group and others (mode 0644): whoever reads the token controls the gateway; make it its owner's only (chmod 600)`,
  );
  assert.match((await problemWith(0o640)) ?? '', /can be read by group \(mode 0640\)/);
  assert.match((await problemWith(0o602)) ?? '', /can be written by others \(mode 0602\)/);
  assert.match((await problemWith(0o666)) ?? '', /can be read and written by group and others \(mode 0666\)/);
});

test('candor check prints it with the file, line and field, and exits 78', {
  skip: process.platform === 'win32',
}, () => {
  chmodSync(token, 0o644);
  const bin = join(import.meta.dirname, '../../../bin/candor.js');
  const result = spawnSync(process.execPath, [bin, 'check', config], { encoding: 'utf8' });
  assert.equal(result.status, 78);
  assert.match(
    result.stderr,
    new RegExp(`^${config.replaceAll('.', '\\.')}:4:\\d+ +admin\\.token_file: .*mode 0644`, 'm'),
  );
});

// A FIFO was read with readFileSync, which waits for a writer: `check` never returned, and the
// primary, which reads the token again after each reload, would have stopped there. A child
// still running after 30 s is killed (its status then null) and fails the case.
test('a token file that is a FIFO or a folder, owner-only, is "not a file", never waited on', {
  skip: process.platform === 'win32',
}, () => {
  const bin = join(import.meta.dirname, '../../../bin/candor.js');
  for (const make of [
    () => execFileSync('mkfifo', ['-m', '600', token]),
    () => mkdirSync(token, { mode: 0o700 }),
  ]) {
    rmSync(token, { recursive: true, force: true });
    make();
    const result = spawnSync(process.execPath, [bin, 'check', config], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(result.status, 78, result.stderr);
    assert.equal(
      result.stderr,
      `${config}:4:15  admin.token_file: cannot read ${JSON.stringify(token)}: not a file\n1 problem in ${config}\n`,
    );
  }
  rmSync(token, { recursive: true, force: true });
  writeFileSync(token, 'a-token-of-thirty-two-characters\n');
});
