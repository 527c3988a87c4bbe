/**
 * `candor serve` on a disk that fails, for real (faulty-disk.ts): its pid file's folder read-only
 * or full, its log file's disk full, its config file cut mid-write before a reload. Startup
 * refusals name the file and the system's word, leave nothing behind and print no stack; a full
 * log disk drops lines (counted), never requests; a reload of a cut file keeps the running config.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { fillUp, freeUp, readOnly, smallDisk } from '../../helpers/faulty-disk.ts';
import { request } from '../../helpers/http-client.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { killAtExit, startServe } from '../../helpers/serve-process.ts';
import { waitUntil } from '../../helpers/wait.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');

/** `candor serve --pid-file PATH` to its exit: its code and stderr. */
function serveWithPidFile(config: string, pidFile: string): Promise<{ code: number | null; stderr: string }> {
  const child = killAtExit(
    spawn(process.execPath, [BIN, 'serve', '--workers', '1', '--config', config, '--pid-file', pidFile], {
      stdio: ['ignore', 'ignore', 'pipe'],
    }),
  );
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    }),
  );
}

async function configIn(t: TestContext, dir: string, extra = ''): Promise<string> {
  const upstream = await listenOnLoopback((_req, res) => res.end('ok'));
  t.after(() => upstream.close());
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `listen: [{ address: 127.0.0.1:0 }]\n${extra}routes:\n  - name: app\n    match: { path: / }\n    upstream: app\nupstreams:\n  app:\n    targets: [{ url: ${upstream.url} }]\n`,
  );
  return path;
}

test('--pid-file in a read-only folder: exit 69, the file and EROFS named, no stack, nothing left', async (t) => {
  const dir = smallDisk(t, '256k');
  if (dir === undefined) return;
  const config = await configIn(t, dir);
  readOnly(t, dir);
  const { code, stderr } = await serveWithPidFile(config, join(dir, 'candor.pid'));
  assert.equal(code, 69);
  assert.match(stderr, new RegExp(`could not write the pid file ${join(dir, 'candor.pid')}: EROFS`));
  assert.doesNotMatch(stderr, /\n\s+at /, 'no stack');
  assert.deepEqual(readdirSync(dir), ['candor.yaml']);
});

test('--pid-file on a full disk: exit 69, ENOSPC named, and no empty temporary file left behind', async (t) => {
  const dir = smallDisk(t, '256k');
  if (dir === undefined) return;
  const config = await configIn(t, dir);
  fillUp(dir);
  const { code, stderr } = await serveWithPidFile(config, join(dir, 'candor.pid'));
  assert.equal(code, 69);
  assert.match(stderr, /could not write the pid file .*: ENOSPC/);
  assert.doesNotMatch(stderr, /\n\s+at /, 'no stack');
  assert.deepEqual(readdirSync(dir).sort(), ['candor.yaml', 'filler']);
});

test('a log file whose disk fills: every request still answered, the refusal said on stderr, and lines come again once there is room', async (t) => {
  const dir = smallDisk(t, '256k');
  if (dir === undefined) return;
  const log = join(dir, 'access.log');
  const config = await configIn(t, dir, `log: { destination: ${log} }\n`);
  const child = killAtExit(
    spawn(process.execPath, [BIN, 'serve', '--workers', '1', '--config', config], {
      stdio: ['ignore', 'ignore', 'pipe'],
    }),
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
  assert.equal((await request(url, { path: '/before' })).status, 200);
  await waitUntil('the first line in the file', () => readFileSync(log, 'utf8').includes('/before'));
  fillUp(dir);
  for (let i = 0; i < 50; i++) assert.equal((await request(url, { path: `/full-${i}` })).status, 200);
  await waitUntil('the refusal said on stderr', () => /ENOSPC|no space/i.test(stderr));
  const said = stderr.split('\n').filter((l) => /ENOSPC|no space/i.test(l));
  assert.equal(said.length, 1, `said once: ${said.join(' | ')}`);
  assert.doesNotMatch(readFileSync(log, 'utf8'), /full-49/);
  freeUp(dir);
  // The file is tried again (250 ms, doubling): a later line reaches it, and the count of those lost.
  await waitUntil(
    'lines in the file again',
    async () => {
      await request(url, { path: '/after' });
      return readFileSync(log, 'utf8').includes('/after');
    },
    20_000,
  );
  assert.match(readFileSync(log, 'utf8'), /dropped/);
  assert.equal(child.exitCode, null, 'the gateway still runs');
});

test('a reload whose config file was cut mid-write: refused naming the file, the running config kept', async (t) => {
  const dir = smallDisk(t, '256k');
  if (dir === undefined) return;
  const config = await configIn(t, dir);
  const serve = await startServe(config, 1);
  t.after(() => serve.stop());
  const url = `http://127.0.0.1:${serve.port}`;
  const whole = readFileSync(config, 'utf8');
  // Cut inside `upstreams:` as a disk filling mid-write leaves it.
  writeFileSync(config, whole.slice(0, whole.indexOf('upstreams:') + 14));
  serve.child.kill('SIGHUP');
  await serve.waitForLines('reload refused: the config is invalid; the running config stays', 1);
  const line = serve.lines.find((l) => String(l.msg).startsWith('reload refused'));
  assert.ok(line !== undefined, 'the reload refused line');
  assert.equal((line.problems as { file: string }[])[0].file, config);
  assert.equal((await request(url, { path: '/' })).text, 'ok');
  // Then the disk turns read-only with the file whole: reading it is all a reload needs.
  writeFileSync(config, whole);
  readOnly(t, dir);
  serve.child.kill('SIGHUP');
  await serve.waitForLines('config swapped', 1, 10_000);
  assert.equal((await request(url, { path: '/' })).text, 'ok');
});

/** Every regular file under `dir`. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

/**
 * A small disk holding the config and Node's compile cache folder, and a start of `candor serve`
 * (one worker) with its compile cache there that must answer and exit cleanly. A start with a
 * cache it cannot use compiles the gateway's modules afresh in the primary and the worker (some
 * 2 s of CPU, 0.7 s from a warm cache): 9-10 s beside three busy loops on two cores, 17-35 s at a
 * load of 13-15, and four of them in one test passed its 60 s. So each case is a test of its own,
 * each start waits up to COLD_START_MS for its worker to listen, and each test's timeout holds
 * its starts' bounds (a start past its bound fails saying so, not the test's timeout).
 */
const COLD_START_MS = 90_000;

async function compileCacheDisk(t: TestContext) {
  const disk = smallDisk(t, '8m');
  if (disk === undefined) return undefined;
  const cache = join(disk, 'compile-cache');
  const config = await configIn(t, disk);
  const serveOnce = async (shape: string) => {
    const serve = await startServe(config, 1, {
      env: { NODE_COMPILE_CACHE: cache },
      listenMs: COLD_START_MS,
    });
    try {
      const got = await request(`http://127.0.0.1:${serve.port}`, { path: '/' });
      assert.equal(got.text, 'ok', shape);
    } finally {
      assert.equal(await serve.stop(), 0, `${shape}: a clean exit`);
    }
  };
  return { disk, cache, serveOnce };
}

test("Node's compile cache written cold, then its files overwritten with garbage: the gateway starts and answers", {
  timeout: 2 * COLD_START_MS + 30_000,
}, async (t) => {
  const disk = await compileCacheDisk(t);
  if (disk === undefined) return;
  await disk.serveOnce('a cold cache');
  const files = filesUnder(disk.cache);
  assert.ok(files.length > 0, 'the cache was written');
  for (const file of files) writeFileSync(file, Buffer.alloc(readFileSync(file).length, 0x5a));
  await disk.serveOnce('its files garbage');
});

test("Node's compile cache on a full disk: the gateway starts and answers", {
  timeout: COLD_START_MS + 30_000,
}, async (t) => {
  const disk = await compileCacheDisk(t);
  if (disk === undefined) return;
  fillUp(disk.disk);
  await disk.serveOnce('a full disk');
});

test("Node's compile cache on a read-only disk: the gateway starts and answers", {
  timeout: COLD_START_MS + 30_000,
}, async (t) => {
  const disk = await compileCacheDisk(t);
  if (disk === undefined) return;
  readOnly(t, disk.disk);
  await disk.serveOnce('a read-only disk');
});
