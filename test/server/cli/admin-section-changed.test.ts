/**
 * `candor reload` and `candor purge` after the file's admin section changed since the gateway
 * read it. The admin token rotated in the file (or its variable): the running gateway still holds the token it read at its start or last reload, so
 * its admin API refuses the new one (401). The command says why and what reloads it (a signal),
 * exit 69; it said only "the token is not the admin token", which sent the operator looking
 * for a typo in a token that was right. A real admin listener holds the old token. And
 * admin.listen moved in the file: the gateway still listens where it was, and "cannot reach"
 * alone read as a gateway that is down.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { createLoggerOn } from '../../../src/observe/log/logger.ts';
import { type AdminServer, startAdminServer } from '../../../src/server/admin/admin-server.ts';
import { EXIT } from '../../../src/server/cluster/exit-codes.ts';
import { runTool } from '../../helpers/cli-tools.ts';
import { closeAll } from '../../helpers/keep.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');
const dir = tempDir('candor-rotated-');
const path = join(dir, 'candor.yaml');
let server: AdminServer;
let called = 0;

before(async () => {
  const logger = createLoggerOn(new Writable({ write: (_c, _e, done) => done() }), 'info', 'rotated');
  const reached = () => {
    called++;
    return { status: 200, body: {} };
  };
  server = await startAdminServer({
    host: '127.0.0.1',
    port: 0,
    token: `old-${'o'.repeat(28)}`,
    allowedHosts: [],
    routes: [
      { method: 'POST', path: '/reload', handle: reached },
      { method: 'DELETE', path: '/cache', handle: reached },
    ],
    logger,
  });
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `new-${'n'.repeat(28)}\n`, { mode: 0o600 });
  writeFileSync(
    path,
    `listen:
  - address: 127.0.0.1:0
admin: { listen: "127.0.0.1:${server.port()}", token_file: ${tokenFile} }
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:9" }]
`,
  );
});
after(() => closeAll(server));

const candor = (...args: string[]) => runTool(process.execPath, [BIN, ...args]);

for (const args of [
  ['reload', '--config', path],
  ['purge', '--config', path],
])
  test(`candor ${args[0]} with a token the gateway has not read yet: says it, and that SIGHUP reloads it`, async () => {
    const { code, stdout, stderr } = await candor(...args);
    assert.equal(code, EXIT.unavailable, stderr);
    assert.equal(stdout, '');
    assert.match(
      stderr,
      new RegExp(
        `^candor: the admin API at 127\\.0\\.0\\.1:${server.port()} refused the token ${path.replaceAll('.', '\\.')} gives: the gateway holds the token it read at its start or its last reload\\.\\n`,
      ),
    );
    assert.match(stderr, /If the token was rotated since .*reload by signal: kill -HUP <the primary's pid>/);
    assert.equal(called, 0, 'no endpoint ran: the token was refused');
  });

test('candor reload and purge with an admin.listen the gateway has not read yet: says it, and that SIGHUP reloads it', async () => {
  const moved = await startRefusing();
  const file = join(dir, 'moved.yaml');
  try {
    const text = readFileSync(path, 'utf8').replace(`127.0.0.1:${server.port()}`, `127.0.0.1:${moved.port}`);
    writeFileSync(file, text);
    for (const command of ['reload', 'purge']) {
      const { code, stdout, stderr } = await candor(command, '--config', file);
      assert.equal(code, EXIT.unavailable, stderr);
      assert.equal(stdout, '');
      assert.match(
        stderr,
        new RegExp(`^candor: cannot reach the admin API at 127\\.0\\.0\\.1:${moved.port}: `),
      );
      assert.match(
        stderr,
        /If admin\.listen was changed in .* since the gateway read it, its admin API is still where it was: reload by signal, kill -HUP/,
      );
    }
  } finally {
    await moved.close();
  }
});
