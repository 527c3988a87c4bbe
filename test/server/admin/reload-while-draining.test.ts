/**
 * A reload asked for while the gateway drains is refused: nothing is read, nothing changes. The
 * file is not at fault, so the refusal must not say it is (a 400 "Invalid config", an error line
 * "the config is invalid", `candor reload` exiting 78 as for a broken file): the gateway is
 * going away, which is a 409 Draining, a warn line that says so, and exit 69.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { startBlackhole } from '../../../src/kits/fault-kit/slow-faults.ts';
import { ended } from '../../helpers/process-state.ts';
import { adminCall, childPids, startServe, stopConfigReader } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort } from '../../helpers/wait.ts';

const TOKEN = 'draining-reload-token-0123456789ab';
const BIN = join(import.meta.dirname, '../../../bin/candor.js');

function cli(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

/** The token and a config of one route, with an admin API, this drain.timeout and upstream app's body. */
async function writeConfig(dir: string, drainTimeout: string, app: string): Promise<string> {
  writeFileSync(join(dir, 'token'), TOKEN, { mode: 0o600 });
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `listen:\n  - address: 127.0.0.1:0\n` +
      `admin: { listen: "127.0.0.1:${await freePort()}", token_file: ${join(dir, 'token')} }\n` +
      `drain: { timeout: ${drainTimeout} }\n` +
      `routes:\n  - upstream: app\nupstreams:\n  app:\n${app}`,
  );
  return path;
}

test('a reload while the gateway drains: 409 Draining, a warn line that says so, candor reload exits 69', async (t) => {
  const hang = await startBlackhole();
  const dir = tempDir('candor-drain-reload-');
  t.after(async () => {
    await hang.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const path = await writeConfig(
    dir,
    '60s',
    `    timeouts: { response: 60s }\n    targets:\n      - url: ${hang.url}\n`,
  );
  const serve = await startServe(path, 1, { admin: true });
  // Held open by the upstream that never answers: the drain waits for it.
  const inFlight = http.get({ host: '127.0.0.1', port: serve.port, path: '/', agent: false });
  inFlight.on('error', () => {});
  await hang.waitForRequest(1);
  serve.child.kill('SIGTERM');
  await serve.waitForLines('draining: stopped accepting', 1);

  const answer = await adminCall(serve.adminPort as number, 'POST', '/reload', { token: TOKEN });
  assert.equal(answer.status, 409);
  assert.equal(answer.body.title, 'Draining');
  assert.equal((answer.body.reload as { result: string }).result, 'draining');

  serve.child.kill('SIGHUP');
  const command = await cli(['reload', '--config', path]);
  assert.equal(command.code, 69, command.stderr);
  assert.match(command.stderr, /the gateway is draining/);

  await serve.waitForLines('reload refused: the gateway is draining; the running config stays', 3);
  const refusals = serve.lines.filter((l) => String(l.msg).startsWith('reload refused'));
  assert.deepEqual(
    refusals.map((l) => [l.level, l.via]),
    [
      ['warn', 'admin'],
      ['warn', 'SIGHUP'],
      ['warn', 'admin'],
    ],
  );
  serve.child.kill('SIGTERM');
  assert.equal(await serve.stop(), 0);
});

test("a drain that begins while a reload reads its file gives that read up: the reload is the 409 Draining, and the file's read does not hold the primary's exit", async (t) => {
  const dir = tempDir('candor-drain-reading-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = await writeConfig(dir, '1s', '    targets:\n      - url: http://127.0.0.1:9\n');
  const serve = await startServe(path, 1, { admin: true });
  // A failure below must not leave the gateway (and its pipes) holding the test's process.
  t.after(() => {
    if (serve.child.exitCode !== null) return;
    for (const pid of childPids(serve.child.pid)) process.kill(pid, 'SIGKILL');
    serve.child.kill('SIGKILL');
  });
  const reload = adminCall(serve.adminPort as number, 'POST', '/reload', { token: TOKEN });
  // The process that reads the file, stopped: a read that takes its whole 10 s (a huge file, a
  // starved machine). Without the drain's stop it is killed at that deadline, not before.
  const loader = await stopConfigReader(serve);
  serve.child.kill('SIGTERM');

  const answer = await reload;
  assert.equal(answer.status, 409, answer.text);
  assert.equal(answer.body.title, 'Draining');
  assert.deepEqual(answer.body.reload, { result: 'draining', file: path, read_stopped: true });
  assert.match(String(answer.body.detail), /was being read: that read was given up and nothing changed/);
  assert.equal(await serve.stop(), 0);
  const refusals = serve.lines.filter((l) => String(l.msg).startsWith('reload refused'));
  assert.deepEqual(
    refusals.map((l) => [l.level, l.msg, l.read_stopped]),
    [['warn', 'reload refused: the gateway is draining; the running config stays', true]],
  );
  assert.equal(ended(loader), true, 'the reading process is gone');
});
