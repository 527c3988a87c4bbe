/**
 * A second `candor serve` on an address another process holds is refused (exit 69, naming the
 * address and the process), as nginx and Caddy refuse: the workers' SO_REUSEPORT would
 * otherwise let it join the first one and take part of its connections (10 requests went 4 to
 * one gateway and 6 to the other). Candor's own workers, restarts and reloads still share it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { adminCall, killAtExit, type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';

const linux = process.platform === 'linux';
const BIN = join(import.meta.dirname, '../../../bin/candor.js');
const dir = tempDir('candor-in-use-');
let first: Fault;
let second: Fault;

before(async () => {
  first = await startEcho();
  second = await startEcho();
});
after(() => closeAll(first, second));

function config(name: string, listen: string[], upstream: string, more = ''): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(
    path,
    `name: ${name}
listen:
${listen.map((address) => `  - address: ${address}`).join('\n')}
${more}routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: ${upstream} }]
`,
  );
  return path;
}

/** `candor serve` that should not start: its exit code and stderr, or a failure once it listens. */
function serveExpectingExit(
  path: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = killAtExit(
      spawn(process.execPath, [BIN, 'serve', '--workers', '2', '--config', path], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env,
      }),
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      if (stdout.includes('"msg":"listening"')) {
        child.kill('SIGKILL');
        reject(new Error(`the second gateway started and joined the address: ${stdout}`));
      }
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

const workersOf = (pid: number) =>
  readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);

test('a second candor serve on the same address exits 69 naming the address and the process holding it', {
  skip: !linux,
}, async () => {
  const port = await freePort();
  const serve = await startServe(config('first', [`127.0.0.1:${port}`], first.url), 2);
  try {
    const workers = workersOf(serve.child.pid as number);
    const path = config('second', [`127.0.0.1:${port}`], second.url);
    const { code, stderr } = await serveExpectingExit(path);
    assert.equal(code, 69, stderr);
    // At its file, line and field, as a reload refuses it.
    assert.ok(
      stderr.startsWith(
        `candor: could not start: ${path}:3:5  listen[0].address: cannot listen on 127.0.0.1:${port}: address in use (EADDRINUSE) by pid `,
      ),
      stderr,
    );
    const holder = Number(/by pid (\d+)/.exec(stderr)?.[1]);
    assert.ok(
      workers.includes(holder),
      `the holder ${holder} is one of the first gateway's workers ${workers}`,
    );
    assert.match(stderr, new RegExp(`a worker of pid ${serve.child.pid}`));
    // Every request reaches the first gateway's upstream: nobody joined it.
    const before = first.received.length;
    for (let i = 0; i < 10; i++)
      assert.equal(
        (await request(`http://127.0.0.1:${port}`, { path: `/r${i}`, headers: { connection: 'close' } }))
          .status,
        200,
      );
    assert.equal(first.received.length, before + 10);
    assert.equal(second.received.length, 0);

    // Its own worker, killed, is replaced and listens on the address again.
    process.kill(workers[0], 'SIGKILL');
    await serve.waitForLines('listening', 3, 15_000);
    for (let i = 0; i < 6; i++)
      assert.equal(
        (await request(`http://127.0.0.1:${port}`, { path: '/again', headers: { connection: 'close' } }))
          .status,
        200,
      );
  } finally {
    await serve.stop();
  }
});

test('a reload that adds an address another process holds (even with SO_REUSEPORT) is refused; one that adds a free one opens it', {
  skip: !linux,
}, async () => {
  const port = await freePort();
  // Another program of the same user, sharing-ready: without the probe the workers would join it.
  const squatter = net.createServer((socket) => socket.destroy());
  const squatterPort = await freePort();
  await new Promise<void>((resolve) =>
    squatter.listen({ host: '127.0.0.1', port: squatterPort, reusePort: true }, resolve),
  );
  const path = config('reloading', [`127.0.0.1:${port}`], first.url);
  let serve: ServeProcess | undefined;
  try {
    serve = await startServe(path, 2);
    config('reloading', [`127.0.0.1:${port}`, `127.0.0.1:${squatterPort}`], first.url);
    serve.child.kill('SIGHUP');
    await serve.waitForLines('reload refused: the config is invalid; the running config stays', 1);
    const refused = serve.lines.find(
      (l) => l.msg === 'reload refused: the config is invalid; the running config stays',
    );
    const [problem] = (refused?.problems ?? []) as { path: string; message: string }[];
    assert.equal(problem.path, 'listen[1].address');
    assert.match(
      problem.message,
      new RegExp(
        `cannot listen on 127\\.0\\.0\\.1:${squatterPort}: address in use \\(EADDRINUSE\\) by pid ${process.pid}`,
      ),
    );

    const freeOne = await freePort();
    config('reloading', [`127.0.0.1:${port}`, `127.0.0.1:${freeOne}`], first.url);
    serve.child.kill('SIGHUP');
    await serve.waitForLines('config reloaded', 1);
    await waitUntil(
      'both workers listen on the new address',
      () =>
        serve?.lines.filter((l) => l.msg === 'listening' && String(l.address).endsWith(`:${freeOne}`))
          .length === 2,
    );
    assert.equal((await request(`http://127.0.0.1:${freeOne}`, { path: '/new' })).status, 200);
  } finally {
    await serve?.stop();
    squatter.close();
  }
});

test('a reload that moves the admin API to an address another process holds is refused whole, naming admin.listen; the admin API stays where it was', async () => {
  const token = 'admin-moved-token-0123456789abcdef';
  writeFileSync(join(dir, 'admin-token'), token, { mode: 0o600 });
  const adminAt = (port: number) =>
    `admin: { listen: "127.0.0.1:${port}", token_file: ${join(dir, 'admin-token')} }\n`;
  const squatter = net.createServer((socket) => socket.destroy());
  const squatterPort = await freePort();
  await new Promise<void>((resolve) => squatter.listen(squatterPort, '127.0.0.1', resolve));
  const adminPort = await freePort();
  const listen = [`127.0.0.1:${await freePort()}`];
  const path = config('admin-moved', listen, first.url, adminAt(adminPort));
  let serve: ServeProcess | undefined;
  try {
    serve = await startServe(path, 1, { admin: true });
    config('admin-moved', listen, first.url, adminAt(squatterPort));
    const answer = await adminCall(adminPort, 'POST', '/reload', { token });
    assert.equal(answer.status, 400, answer.text);
    const [problem, ...others] = (answer.body.reload as { problems: { path: string; message: string }[] })
      .problems;
    assert.deepEqual(others, []);
    assert.equal(problem.path, 'admin.listen');
    assert.match(
      problem.message,
      new RegExp(`cannot listen on 127\\.0\\.0\\.1:${squatterPort}: address in use`),
    );
    // Still there, on the running config: it was closed before its new address failed.
    assert.equal((await adminCall(adminPort, 'GET', '/status', { token })).status, 200);
  } finally {
    await serve?.stop();
    squatter.close();
  }
});

// The admin listener's address was probed at start and the answer dropped: serve went on, its
// workers listening, and then stopped with "could not start the admin API: listen EADDRINUSE …",
// naming no field. It is refused first now, as a taken listener is, at admin.listen.
test('serve whose admin.listen another process holds exits 69 at its file, line and field, before listening', async () => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const adminPort = (blocker.address() as net.AddressInfo).port;
  try {
    const path = config(
      'admin-taken',
      [`127.0.0.1:${await freePort()}`],
      second.url,
      `admin:\n  listen: 127.0.0.1:${adminPort}\n  token_env: ADMIN_TAKEN_TOKEN\n`,
    );
    const { code, stderr } = await serveExpectingExit(path, {
      ...process.env,
      ADMIN_TAKEN_TOKEN: 'admin-taken-0123456789abcdef0123',
    });
    assert.equal(code, 69, stderr);
    assert.ok(
      stderr.startsWith(
        `candor: could not start: ${path}:5:3  admin.listen: cannot listen on 127.0.0.1:${adminPort}: address in use (EADDRINUSE) by `,
      ),
      stderr,
    );
  } finally {
    blocker.close();
  }
});

// The probe of a reload's new addresses found the gateway's own sockets on the same port: moving
// the admin API from 127.0.0.1:P to 0.0.0.0:P was refused, telling the operator to stop the
// gateway's own primary ("by pid N (…); stop it first"), though the primary closes its admin
// listener before it opens the new one; and a main listener moved so (which a reload cannot do:
// the old socket serves until the new one opens) was refused naming its own worker the same way.
test("a reload that moves the admin API to the wildcard on its own port is applied; a listener moved so is refused naming the gateway's own port, not a process to stop", {
  skip: !linux,
}, async () => {
  const token = 'admin-wildcard-token-0123456789abcdef';
  writeFileSync(join(dir, 'admin-wildcard-token'), token, { mode: 0o600 });
  const adminPort = await freePort();
  const adminAt = (host: string) =>
    `admin: { listen: "${host}:${adminPort}", token_file: ${join(dir, 'admin-wildcard-token')} }\n`;
  const port = await freePort();
  const path = config('admin-wildcard', [`127.0.0.1:${port}`], first.url, adminAt('127.0.0.1'));
  let serve: ServeProcess | undefined;
  try {
    serve = await startServe(path, 2, { admin: true });
    config('admin-wildcard', [`127.0.0.1:${port}`], first.url, adminAt('0.0.0.0'));
    const moved = await adminCall(adminPort, 'POST', '/reload', { token });
    assert.equal(moved.status, 200, moved.text);
    assert.equal((moved.body as { result: string }).result, 'ok');
    // The primary moves it once the reload is answered.
    await serve.waitForLines(
      'admin API listening beyond loopback: anyone who reaches this address and holds the token controls the gateway',
      1,
    );
    assert.equal((await adminCall(adminPort, 'GET', '/status', { token })).status, 200);

    config('admin-wildcard', [`0.0.0.0:${port}`], first.url, adminAt('0.0.0.0'));
    const refused = await adminCall(adminPort, 'POST', '/reload', { token });
    assert.equal(refused.status, 400, refused.text);
    const [problem, ...others] = (refused.body.reload as { problems: { path: string; message: string }[] })
      .problems;
    assert.deepEqual(others, []);
    assert.equal(problem.path, 'listen[0].address');
    assert.match(
      problem.message,
      new RegExp(
        `^cannot listen on 0\\.0\\.0\\.0:${port}: this gateway holds its port on another address \\(pid \\d+ \\(.*\\), a worker of pid ${serve.child.pid}\\): .*restart the gateway to move it, or listen on another port$`,
      ),
    );
    assert.doesNotMatch(problem.message, /stop it first/);
    assert.equal((await request(`http://127.0.0.1:${port}`, { path: '/still' })).status, 200);
  } finally {
    await serve?.stop();
  }
});
