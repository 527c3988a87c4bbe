/**
 * An admin token file anyone but its owner can read (or write) is refused when the config is
 * loaded, as a config error naming the file and its mode: whoever reads the token controls
 * the gateway. `candor check` says the same, with the file, line and field.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
    // A folder as mkdir makes one (0755) was told by its mode ("make it its owner's only (chmod
    // 600)"), and once that was done, as "not a file": two rounds to learn one thing.
    () => {
      mkdirSync(token);
      chmodSync(token, 0o755);
    },
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

// A token of other bytes was taken, and no client could ever send it: an HTTP field's value is
// read byte for byte as Latin-1, so `tokén…` (UTF-8), a control byte, or the raw bytes of
// `openssl rand 32 > token` (read as UTF-8, U+FFFD in place of each bad byte) never compared
// equal. `serve` started with its admin API locked (every request 401), and `candor reload`
// said the token had been rotated since.
test('a token that is not visible ASCII is refused, the token never quoted', async () => {
  chmodSync(token, 0o600);
  for (const bytes of [
    Buffer.from('tokén-of-thirty-two-characters!\n'),
    Buffer.from('token\x01of-thirty-two-characters!\n'),
    Buffer.from([
      0x9f, 0x41, 0xff, 0x42, 0x80, 0x43, 0xc3, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x4b, 0x4c, 0xfe,
    ]),
  ]) {
    writeFileSync(token, bytes);
    const message = await problemWith(0o600);
    assert.equal(
      message,
      'the admin token must be visible ASCII (letters, digits, punctuation: what `openssl rand -hex 32` writes): a client cannot send another character in its Authorization field as it is read, so every admin request would be refused',
    );
  }
  writeFileSync(token, 'a-token-of-thirty-two-characters\n');
  const envConfig = join(dir, 'env-token.yaml');
  writeFileSync(
    envConfig,
    readFileSync(config, 'utf8').replace('token_file: admin-token', 'token_env: ADMIN_TOKEN'),
  );
  await assert.rejects(
    loadConfigFile(envConfig, { ADMIN_TOKEN: 'tokén-of-thirty-two-characters!' }),
    (error: unknown) =>
      error instanceof ConfigError &&
      error.problems.length === 1 &&
      error.problems[0].path === 'admin.token_env' &&
      error.problems[0].message.startsWith('the admin token must be visible ASCII') &&
      !error.message.includes('tokén'),
  );
});
