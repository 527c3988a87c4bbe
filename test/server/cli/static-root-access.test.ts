/**
 * A static root the gateway's user may not enter (no search permission: a deploy's umask 077, a
 * directory owned by another user) is refused when the config is loaded, naming it and the
 * reason: every file under it would be the 404 a missing one is (EACCES is told as one, so that
 * no client learns what is there), and the log line would say only "no file for …". Run as an
 * unprivileged user (root enters any directory).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../helpers/temp-dir.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');
const asRoot = process.getuid?.() === 0;
const setpriv = spawnSync('setpriv', ['--version']).status === 0;

function check(mode: number): { status: number | null; out: string; root: string } {
  const dir = tempDir('candor-static-root-access-');
  chmodSync(dir, 0o755);
  const root = join(dir, 'site');
  mkdirSync(root);
  writeFileSync(join(root, 'index.html'), 'home');
  chmodSync(join(root, 'index.html'), 0o644);
  chmodSync(root, mode);
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `listen:\n  - address: 127.0.0.1:8080\nroutes:\n  - match: { path: / }\n    static: { root: site }\n`,
  );
  chmodSync(path, 0o644);
  const prefix = asRoot ? ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups'] : [];
  const [command, ...args] = [...prefix, process.execPath, BIN, 'check', '--config', path];
  const run = spawnSync(command, args, { encoding: 'utf8', cwd: '/', timeout: 60_000 });
  return { status: run.status, out: `${run.stdout}${run.stderr}`, root };
}

test('a static root the gateway may not enter is a config error naming it; one it may enter but not list is served', {
  skip: asRoot && !setpriv ? 'root without setpriv: no unprivileged user to run it as' : false,
}, () => {
  const closed = check(0o700);
  assert.equal(closed.status, 78, closed.out);
  assert.match(
    closed.out,
    new RegExp(
      `routes\\[0\\]\\.static\\.root: "${closed.root}" cannot be entered by the gateway's user \\(EACCES\\): every file under it would be a 404; give it search permission \\(chmod o\\+x, or a group the gateway is in\\)`,
    ),
  );
  // Search permission alone is what opening a file by its name needs: no listing is ever made.
  const searchOnly = check(0o711);
  assert.equal(searchOnly.status, 0, searchOnly.out);
});
