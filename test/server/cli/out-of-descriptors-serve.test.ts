/**
 * `candor serve` on a machine that runs out, for real: its open-file limit lowered with prlimit
 * (RLIMIT_NOFILE, soft and hard, as a container's or a systemd unit's LimitNOFILE= sets it: Node
 * raises only the soft one to the hard), its file-size limit (RLIMIT_FSIZE) under its log file.
 *
 * libuv closes a connection it cannot give a descriptor to as it accepts it (its EMFILE trick:
 * a spare descriptor freed, the waiting connections accepted and closed): Node never hears of it,
 * so the gateway can neither log nor count those, only say at its start, once, that its
 * listeners' max_connections passes what the limit leaves (nginx's "worker_connections exceed
 * open file resource limit"). What it does see is its own upstream connect failing: 503
 * proxy_resources_exhausted, the gateway's own shortage, never the target's. The listener goes
 * on accepting once descriptors are free; the process lives through every case.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { killAtExit, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');

/** `listen` a port of its own: on port 0 a cluster's primary accepts and hands each connection over (acceptors.ts). */
async function configIn(t: TestContext, extra = '', port = 0): Promise<{ dir: string; config: string }> {
  const upstream = await listenOnLoopback((_req, res) => res.end('ok'));
  t.after(() => upstream.close());
  const dir = tempDir('candor-exhaust-');
  const config = join(dir, 'candor.yaml');
  writeFileSync(
    config,
    `listen: [{ address: 127.0.0.1:${port} }]\n${extra}routes:\n  - name: app\n    match: { path: / }\n    upstream: app\nupstreams:\n  app:\n    targets: [{ url: ${upstream.url} }]\n`,
  );
  return { dir, config };
}

/** `count` connections at once, each sending a GET and held open until all have an answer or are closed: the status each got (0: closed unanswered). */
function burst(port: number, count: number): Promise<number[]> {
  const sockets: net.Socket[] = [];
  const each = Array.from(
    { length: count },
    () =>
      new Promise<number>((resolve) => {
        const socket = net.connect(port, '127.0.0.1');
        sockets.push(socket);
        let head = '';
        socket.on('connect', () => socket.write('GET /burst HTTP/1.1\r\nHost: a\r\n\r\n'));
        socket.on('data', (chunk) => {
          head += chunk;
          if (head.includes('\r\n')) resolve(Number(head.split(' ')[1]));
        });
        socket.on('error', () => resolve(0));
        socket.on('close', () => resolve(0));
      }),
  );
  return Promise.all(each).finally(() => {
    for (const socket of sockets) socket.destroy();
  });
}

test('an open-file limit of 64 under a listener of max_connections 10000: said once at the start, a burst of 200 connections survived, the shortage told as the gateway own, and the listener accepts again', async (t) => {
  // A port of its own: the worker binds its SO_REUSEPORT acceptors (Linux, as in production).
  const { config } = await configIn(t, '', await freePort());
  const serve = await startServe(config, 1, { prefix: ['prlimit', '--nofile=64:64'] });
  t.after(() => serve.stop());
  const said = serve.lines.filter((l) => /open-file limit/.test(String(l.msg)));
  assert.equal(said.length, 1, JSON.stringify(said));
  assert.equal(said[0]?.level, 'warn');
  assert.equal(said[0]?.open_file_limit, 64);
  assert.equal(said[0]?.max_connections, 10_000);

  const statuses = await burst(serve.port, 200);
  // Some answered, at most as many as the descriptors allow; none answered as the upstream's fault.
  assert.ok(statuses.some((s) => s !== 0));
  assert.deepEqual(
    statuses.filter((s) => s !== 200 && s !== 503 && s !== 0),
    [],
  );
  // Every answer has its line (the lines come a little after the answers).
  await serve.waitForLines('request', statuses.filter((s) => s !== 0).length);
  const requests = serve.lines.filter((l) => l.msg === 'request' && l.status !== 200);
  for (const line of requests) {
    assert.equal(line.error, 'proxy_resources_exhausted');
    assert.equal(line.shape, 'gateway');
    assert.match(String(line.details), /^no file descriptor left for the connection \(EMFILE/);
  }
  assert.equal(statuses.filter((s) => s === 503).length, requests.length, 'every 503 has its line');
  // The descriptors given back: the listener accepts and answers again, in the same worker.
  assert.equal((await request(`http://127.0.0.1:${serve.port}`, { path: '/after' })).status, 200);
  assert.equal(serve.child.exitCode, null);
  assert.equal(serve.lines.filter((l) => /open-file limit/.test(String(l.msg))).length, 1, 'said once');
});

test('a log file past the file-size limit (SIGXFSZ, EFBIG): the gateway lives, every request answered, the refusal said once', async (t) => {
  const { dir } = await configIn(t);
  const log = join(dir, 'access.log');
  const { config } = await configIn(t, `log: { destination: ${log} }\n`);
  // Its lines go to the file: the start is read on stderr.
  const child = killAtExit(
    spawn(
      'prlimit',
      ['--fsize=16384', process.execPath, BIN, 'serve', '--workers', '1', '--config', config],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    ),
  );
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  t.after(async () => {
    child.kill('SIGTERM');
    await exited;
  });
  await waitUntil('the start line', () => /listening on 127\.0\.0\.1:\d+/.test(stderr), 15_000);
  const url = `http://${(/listening on (127\.0\.0\.1:\d+)/.exec(stderr) as RegExpExecArray)[1]}`;
  for (let i = 0; i < 120; i++) assert.equal((await request(url, { path: `/p${i}` })).status, 200);
  await waitUntil('the refusal said on stderr', () => /EFBIG/.test(stderr));
  assert.equal(stderr.split('\n').filter((l) => /EFBIG/.test(l)).length, 1);
  assert.ok(readFileSync(log).length <= 16384);
  assert.equal(child.exitCode, null);
  assert.equal(child.signalCode, null);
});
