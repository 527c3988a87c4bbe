/**
 * The admin listener opens before the workers do (the primary starts it, then forks them): its
 * `GET /ready` says "send me traffic", so it must not answer 200 while no worker listens yet
 * (a Docker HEALTHCHECK or a readiness probe on it would send clients to a refused port).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { killAtExit } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort } from '../../helpers/wait.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');

const get = (port: number, path: string) =>
  new Promise<{ status: number; body: string } | undefined>((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', () => resolve(undefined));
  });

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });

test('GET /ready answers 503 "starting" until a worker listens, then 200', async () => {
  const dir = tempDir('candor-ready-');
  const [mainPort, adminPort] = [await freePort(), await freePort()];
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `listen:
  - address: 127.0.0.1:${mainPort}
admin: { listen: "127.0.0.1:${adminPort}", token_env: CANDOR_TEST_TOKEN }
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:9
`,
  );
  const child = killAtExit(
    spawn(process.execPath, [BIN, 'serve', '--workers', '2', '--config', path], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, CANDOR_TEST_TOKEN: 'ready-test-token-abcdefghijkl' },
    }),
  );
  try {
    const seen: string[] = [];
    const deadline = performance.now() + 20_000;
    for (;;) {
      assert.ok(performance.now() < deadline, `never ready: ${seen.join(', ')}`);
      const answer = await get(adminPort, '/ready');
      if (answer !== undefined) seen.push(`${answer.status} ${answer.body.trim()}`);
      if (answer?.status === 200) break;
      if (answer !== undefined) assert.deepEqual(JSON.parse(answer.body), { status: 'starting' });
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    // Ready said so: the main listener takes the connection that probe promised.
    assert.equal(await accepts(mainPort), true, `ready before listening: ${seen.join(', ')}`);
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
});

test('GET /ready says starting while the only worker is dead and its replacement not yet listening', async () => {
  const dir = tempDir('candor-ready-');
  const [mainPort, adminPort] = [await freePort(), await freePort()];
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `listen:\n  - address: 127.0.0.1:${mainPort}\nadmin: { listen: "127.0.0.1:${adminPort}", token_env: CANDOR_TEST_TOKEN }\nroutes:\n  - match: { path: / }\n    upstream: app\nupstreams:\n  app:\n    targets:\n      - url: http://127.0.0.1:9\n`,
  );
  const child = killAtExit(
    spawn(process.execPath, [BIN, 'serve', '--workers', '1', '--config', path], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, CANDOR_TEST_TOKEN: 'ready-test-token-abcdefghijkl' },
    }),
  );
  try {
    const readyNow = async () => (await get(adminPort, '/ready'))?.status;
    const deadline = performance.now() + 20_000;
    while ((await readyNow()) !== 200) {
      assert.ok(performance.now() < deadline, 'never ready');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const [worker] = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(' ');
    process.kill(Number(worker), 'SIGKILL');
    const seen: number[] = [];
    while (!seen.includes(503) || seen.at(-1) !== 200) {
      assert.ok(performance.now() < deadline + 20_000, `after the kill: ${seen.join(' ')}`);
      const status = await readyNow();
      if (status !== undefined && status !== seen.at(-1)) seen.push(status);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    // Ready again: the replacement listens.
    assert.equal(await accepts(mainPort), true);
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
});
