/**
 * A signal sent while `candor serve` is still starting (reading and validating its config in a
 * process of its own, before its workers run): SIGHUP is what systemd's ExecReload sends, and
 * a reload asked for right after a start must not end the gateway on the spot (Node's default
 * for SIGHUP, exit 129, nothing logged; issue 12's first complaint). It is made once the
 * gateway runs. SIGUSR2 does nothing then as later.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort, waitUntil } from '../../helpers/wait.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');

/** Whether `pid` has a child process now (the primary validating its config in one). */
function hasChild(pid: number): boolean {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // pid (comm) state ppid …: comm may hold spaces, so read after its closing parenthesis.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) return true;
    } catch {
      // gone meanwhile
    }
  }
  return false;
}

for (const signal of ['SIGHUP', 'SIGUSR2'] as const)
  test(`${signal} while the primary validates its config does not end it${signal === 'SIGHUP' ? ': the reload is made once it runs' : ''}`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'candor-early-signal-'));
    const path = join(dir, 'candor.yaml');
    writeFileSync(
      path,
      'listen:\n  - address: 127.0.0.1:0\nroutes:\n  - upstream: app\nupstreams:\n  app:\n    targets:\n      - url: http://127.0.0.1:9\n',
    );
    const child = spawn(process.execPath, [BIN, 'serve', '--workers', '1', '--config', path], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      const pid = child.pid as number;
      await waitUntil('validating its config in a child process', () => hasChild(pid), 15_000);
      assert.equal(out.includes('"msg":"listening"'), false, 'sent while starting');
      child.kill(signal);
      const ended = () => child.exitCode !== null || child.signalCode !== null;
      await waitUntil('listening', () => out.includes('"msg":"listening"') || ended(), 15_000);
      assert.deepEqual(
        [child.exitCode, child.signalCode],
        [null, null],
        `${signal} ended the primary while it started`,
      );
      if (signal === 'SIGHUP')
        await waitUntil('reloaded', () => /"via":"SIGHUP".*"msg":"config reloaded"/.test(out), 10_000).catch(
          (err: Error) => assert.fail(`${err.message}; the log: ${out}`),
        );
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });

/** Whether something listens on this port on loopback. */
const inspectorOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });

test('a SIGUSR1 in the first milliseconds of the primary (before it can take the signal over) leaves no inspector open once it runs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'candor-early-usr1-'));
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    'listen:\n  - address: 127.0.0.1:0\nroutes:\n  - upstream: app\nupstreams:\n  app:\n    targets:\n      - url: http://127.0.0.1:9\n',
  );
  // An inspector port of its own (not 9229, which other tests watch), as --inspect-port sets it.
  const port = await freePort();
  // Node opens the inspector on a SIGUSR1 that comes before any JavaScript runs: sent as soon
  // as the primary's pid exists, it lands there in most tries (stderr says so when it did); on a loaded machine fewer, hence 60 tries.
  for (let tries = 0; ; tries++) {
    assert.ok(tries < 60, 'no SIGUSR1 landed before the primary took the signal over');
    const child = spawn(
      process.execPath,
      [`--inspect-port=${port}`, BIN, 'serve', '--workers', '1', '--config', path],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      // The primary starts itself again with its V8 flags (bin/candor.js): the signal goes to that start.
      await waitUntil('restarted with its flags', () => {
        try {
          return readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').includes('--no-maglev');
        } catch {
          return false;
        }
      });
      child.kill('SIGUSR1');
      await waitUntil(
        'listening',
        () => out.includes('"msg":"listening"') || child.signalCode !== null,
        15_000,
      );
      // Before Node itself took SIGUSR1 (the kernel's default ends the process), or after the
      // primary did (no inspector): not the moment this test is about, so again.
      if (child.signalCode === 'SIGUSR1' || !err.includes('Debugger listening')) continue;
      assert.equal(await inspectorOpen(port), false, `the inspector stayed open: ${err}`);
      return;
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
  }
});
