/**
 * A gateway npm started (`npm start`, `npx candor serve`) runs under the shell npm ran it with,
 * and npm's SIGTERM ends that shell without passing it on. Under npm (`npm_command` set) the
 * gateway takes its parent's end for a SIGTERM: it drains and exits, nothing left serving.
 * Started otherwise, a gateway whose parent ends serves on (a shell's `&`, nohup).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ended } from '../../helpers/process-state.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { waitUntil } from '../../helpers/wait.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');
const dir = tempDir('candor-npm-parent-');
const started: number[] = [];
after(() => {
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  rmSync(dir, { recursive: true, force: true });
});

const config = (upstream = 'http://127.0.0.1:9') => `listen:
  - address: 127.0.0.1:0
routes:
  - upstream: app
upstreams:
  app: { targets: [{ url: "${upstream}" }] }
`;

/** Runs still: an orphan's exit is collected when the machine's reaper gets to it (a zombie answers kill 0). */
const alive = (pid: number): boolean => !ended(pid);

/** `candor serve` under a shell that does not pass signals on, as npm runs it; the gateway's pid, and the shell. */
async function underShell(name: string, env: NodeJS.ProcessEnv, upstream?: string) {
  const file = join(dir, `${name}.yaml`);
  const pidFile = join(dir, `${name}.pid`);
  writeFileSync(file, config(upstream));
  // `; true`: the shell waits for the gateway rather than becoming it, as npm's does.
  const shell = spawn(
    '/bin/sh',
    ['-c', `"${process.execPath}" "${BIN}" serve --config "${file}" --pid-file "${pidFile}"; true`],
    // A process group of its own, as a terminal's or a service manager's.
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
      env: { ...process.env, npm_command: undefined, ...env },
    },
  );
  // Its start line on stderr names the address it listens on.
  let stderr = '';
  shell.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const port = () => Number(/listening on 127\.0\.0\.1:(\d+)/.exec(stderr)?.[1] ?? 0);
  let pid = 0;
  await waitUntil('the gateway to write its pid', () => {
    try {
      pid = Number(readFileSync(pidFile, 'utf8'));
    } catch {}
    return pid > 0;
  });
  started.push(pid);
  return { pid, shell, port };
}

test('under npm, the end of the shell npm ran it with drains the gateway and ends it', async () => {
  const { pid, shell } = await underShell('npm', { npm_command: 'exec' });
  shell.kill('SIGTERM');
  await waitUntil('the gateway to end with its shell', () => !alive(pid), 10_000);
});

test('started otherwise, a gateway whose parent ends serves on', async () => {
  const { pid, shell } = await underShell('daemon', {});
  const gone = new Promise((resolve) => shell.once('exit', resolve));
  shell.kill('SIGTERM');
  await gone;
  // Longer than the watch's look under npm (1 s): a daemon's parent may go, and it stays.
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  assert.equal(alive(pid), true, 'a gateway started by a shell it outlives is no orphan to end');
  process.kill(pid, 'SIGTERM');
  await waitUntil('the gateway to drain on its own SIGTERM', () => !alive(pid), 10_000);
});

test('under npm, a stop signalled to the whole group (Ctrl-C, systemd) is one drain: the request in flight finishes', async (t) => {
  // The shell dies of the group's signal too: its end must not count as a second signal, which cuts.
  let received = 0;
  const slow = http.createServer((_req, res) => {
    received++;
    setTimeout(() => res.end('slow ok'), 2_500);
  });
  await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => slow.close(() => resolve())));
  const upstream = `http://127.0.0.1:${(slow.address() as AddressInfo).port}`;
  const { pid, shell, port } = await underShell('group', { npm_command: 'exec' }, upstream);
  await waitUntil('the gateway to listen', () => port() > 0, 10_000);
  const answer = fetchText(`http://127.0.0.1:${port()}/slow`);
  await waitUntil('the request to reach its upstream', () => received === 1);
  process.kill(-(shell.pid as number), 'SIGTERM');
  assert.equal(await answer, '200 slow ok');
  await waitUntil('the gateway to end after its drain', () => !alive(pid), 10_000);
});

/** GET url: "status body", or the error's code. */
function fetchText(url: string): Promise<string> {
  return new Promise((resolve) => {
    http
      .get(url, (res) => {
        let body = '';
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => resolve(`${res.statusCode} ${body}`));
        res.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
      })
      .on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}
