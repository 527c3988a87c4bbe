/**
 * A log destination that cannot take lines any more (stdout a pipe whose reader left: a log
 * shipper or journald restarting) is said once on stderr, retried with a backoff, counted in
 * candor_log_lines_dropped_total, and costs no CPU while it is gone. It used to make the
 * worker spin: EPIPE, the batch counted dropped, the "lines were dropped" notice written,
 * EPIPE again, for ever.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { LineWriter } from '../../../src/observe/log/line-writer.ts';
import { request } from '../../helpers/http-client.ts';
import { startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';

const dir = tempDir('candor-log-gone-');

/** CPU seconds a process has used so far (user + system), from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
}

async function metricsText(port: number): Promise<string> {
  return (await request(`http://127.0.0.1:${port}`, { path: '/metrics' })).text;
}

const dropped = (text: string) =>
  Number(/^candor_log_lines_dropped_total (\d+)$/m.exec(text)?.[1] ?? Number.NaN);

/** A config file (`name` in the test's folder): one route to `upstream`, metrics on `metricsPort`. */
function metricsConfig(name: string, metricsPort: number, upstream: string): string {
  const config = path.join(dir, name);
  fs.writeFileSync(
    config,
    `listen: [{ address: 127.0.0.1:0 }]
metrics: { listen: 127.0.0.1:${metricsPort} }
routes:
  - name: app
    match: { path: / }
    upstream: app
upstreams:
  app:
    targets: [{ url: ${upstream} }]
`,
  );
  return config;
}

/** Resolves once `stream` has brought nothing for `quietMs` (at most `boundMs` in all). */
async function quietFor(
  stream: NodeJS.ReadableStream | null,
  quietMs: number,
  boundMs: number,
): Promise<void> {
  let last = performance.now();
  const seen = () => {
    last = performance.now();
  };
  stream?.on('data', seen);
  try {
    const end = last + boundMs;
    while (performance.now() - last < quietMs && performance.now() < end)
      await new Promise((resolve) => setTimeout(resolve, 50));
  } finally {
    stream?.off('data', seen);
  }
}

/** The pids of a process's children (its workers). */
const childrenOf = (pid: number): number[] =>
  fs
    .readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map(Number);

test("stdout's reader leaves: the worker says so once on stderr, stays idle, counts the lines, and still drains", async () => {
  const upstream = await startEcho();
  const metricsPort = await freePort();
  const config = metricsConfig('serve.yaml', metricsPort, upstream.url);
  const serve = await startServe(config, 1);
  try {
    const primary = serve.child.pid as number;
    const [worker] = childrenOf(primary);
    // The only reader of the pipe goes away: every write to it now fails with EPIPE.
    serve.child.stdout?.destroy();
    const base = `http://127.0.0.1:${serve.port}`;
    for (let i = 0; i < 3; i++) assert.equal((await request(base, { path: '/x' })).status, 200);
    // A window of idleness: a worker that retries at once would use about as much CPU as
    // wall time (a busy loop); one that waits for its backoff uses next to none.
    const cpuBefore = cpuSeconds(worker);
    const wallBefore = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const cpu = cpuSeconds(worker) - cpuBefore;
    const wall = (performance.now() - wallBefore) / 1000;
    assert.ok(
      cpu / wall < 0.1,
      `the worker used ${cpu} s of CPU in ${wall.toFixed(2)} s while its log was gone`,
    );

    const notices = () =>
      serve
        .stderr()
        .split('\n')
        .filter((l) => l.includes('the log destination refuses writes'));
    await waitUntil('the notice on stderr', () => notices().length > 0);
    assert.equal(notices().length, 1, `said once: ${serve.stderr()}`);
    const notice = JSON.parse(notices()[0]);
    assert.equal(notice.level, 'error');
    assert.equal(notice.err, 'EPIPE');
    // The three access lines, counted once the backoff's tries have failed.
    let text = await metricsText(metricsPort);
    for (let i = 0; i < 50 && !(dropped(text) >= 3); i++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      text = await metricsText(metricsPort);
    }
    assert.ok(dropped(text) >= 3, `candor_log_lines_dropped_total: ${dropped(text)}`);
    assert.match(text, /# TYPE candor_log_lines_dropped_total counter/);

    // Draining does not wait on a log that cannot be written.
    assert.equal(await serve.stop(), 0);
  } finally {
    serve.child.kill('SIGKILL');
    await upstream.close();
  }
});

test('a FIFO whose reader left and came back: the batch is lost and counted, later lines and the count reach the new reader', async () => {
  const fifo = path.join(dir, 'log.fifo');
  execFileSync('mkfifo', [fifo]);
  const firstReader = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const writeFd = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  const writer = new LineWriter(writeFd, 1 << 20, { name: 'edge-1' });
  writer.write('{"n":1}\n');
  await new Promise<void>((resolve) => writer.flush(() => resolve()));
  const buffer = Buffer.alloc(1 << 16);
  assert.equal(buffer.subarray(0, fs.readSync(firstReader, buffer)).toString(), '{"n":1}\n');
  fs.closeSync(firstReader);

  writer.write('{"n":2}\n');
  // A flush while the destination refuses writes calls back at once, with the error.
  await waitUntil('the write refused', () => writer.linesDropped === 1);
  const flushError = await new Promise<Error | undefined>((resolve) => writer.flush(resolve));
  assert.match(String(flushError), /refuses writes/);
  // Queued while it is gone: written by the retry once a reader is back.
  writer.write('{"n":3}\n');

  const reader = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  let text = '';
  await waitUntil(
    'the retry reached the new reader',
    () => {
      try {
        text += buffer.subarray(0, fs.readSync(reader, buffer)).toString();
      } catch {
        // EAGAIN: nothing yet.
      }
      return text.includes('dropped_lines');
    },
    10_000,
  );
  const lines = text
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(lines[0], { n: 3 });
  assert.equal(lines[1].dropped_lines, 1);
  assert.equal(lines.length, 2);
  assert.equal(writer.linesDropped, 1);
  fs.closeSync(reader);
  fs.closeSync(writeFd);
});

/**
 * Another process on the gateway's stdout (`node -e COTENANT candor serve …`, as npm or a shell
 * share it): it runs the gateway with the same stdout and keeps making that stdout blocking
 * (the flag belongs to the description every process holding it shares; a fork or a Node
 * process's exit sets it so), as hostile a neighbour as there can be. Its exit code is the
 * gateway's; SIGTERM is passed on.
 */
const COTENANT = `
const child = require('node:child_process').spawn(process.execPath, process.argv.slice(1), {
  stdio: ['ignore', 'inherit', 'inherit'],
});
const blocking = setInterval(() => process.stdout._handle.setBlocking(true), 1);
process.on('SIGTERM', () => child.kill('SIGTERM'));
child.on('exit', (code, signal) => {
  clearInterval(blocking);
  process.exitCode = code ?? 128;
  if (signal) process.stderr.write('the gateway ended by ' + signal + '\\n');
});
`;

/**
 * `candor serve` with a log no one reads any more (`log` the config's log section, `stalled`
 * what makes it so once the gateway answers; `cotenant`: run under COTENANT): 200 requests with
 * lines of some 4 KB each, far more than a pipe holds, then SIGTERM. Returns the exit code. It
 * used to hang: each write blocked a thread-pool thread, the drain waited on it for ever, and a
 * process cannot exit while a pool thread is in a write (workers were killed at the drain's
 * deadline, and a primary blocked so never exited).
 */
async function sigtermWithStalledLog(
  log: string,
  workers: number,
  stalled: (child: ChildProcess) => Promise<void>,
  cotenant = false,
): Promise<number | null> {
  const upstream = await startEcho();
  const port = await freePort();
  const config = path.join(dir, `stalled-${workers}.yaml`);
  fs.writeFileSync(
    config,
    `listen: [{ address: 127.0.0.1:${port} }]
${log}
drain: { timeout: 20s }
routes:
  - name: app
    match: { path: / }
    upstream: app
upstreams:
  app:
    targets: [{ url: ${upstream.url} }]
`,
  );
  const bin = path.join(import.meta.dirname, '../../../bin/candor.js');
  const serve = [bin, 'serve', '--workers', String(workers), '--config', config];
  const child = spawn(process.execPath, cotenant ? ['-e', COTENANT, ...serve] : serve, {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Kept whole: when the exit is not 0, what the gateway said of it is the only clue.
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  try {
    const base = `http://127.0.0.1:${port}`;
    await stalled(child);
    await waitUntilAnswered(base);
    const long = `/${'x'.repeat(4000)}`;
    for (let i = 0; i < 200; i++) assert.equal((await request(base, { path: long })).status, 200);
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = await exited;
    if (code !== 0) process.stderr.write(`the gateway's stderr:\n${stderr}\n`);
    return code;
  } finally {
    child.kill('SIGKILL');
    await upstream.close();
  }
}

async function waitUntilAnswered(base: string): Promise<void> {
  for (let i = 0; i < 150; i++) {
    try {
      if ((await request(base, { path: '/' })).status === 200) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Reads the gateway's stdout until both workers listen, then never again: the socket fills and stays full. */
async function stopReadingOnceListening(child: ChildProcess): Promise<void> {
  let seen = '';
  await new Promise<void>((resolve) => {
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.split('"msg":"listening"').length - 1 < 2) return;
      child.stdout?.off('data', onData);
      child.stdout?.pause();
      resolve();
    };
    child.stdout?.on('data', onData);
  });
}

test("stdout's reader is there but stops reading: requests are still answered, and SIGTERM still ends the gateway", {
  timeout: 60_000,
}, async () => {
  assert.equal(await sigtermWithStalledLog('', 2, stopReadingOnceListening), 0);
});

// A write begun while the description is blocking stays in the kernel until the reader reads,
// and libuv joins that thread at the process's exit: a drained worker was kept until the
// primary's backstop killed it (exit 1, "outlived the drain"). One in twenty runs under load,
// when the first worker's exit made stdout blocking (Node puts back the flag a process started
// with, and a fork starts a worker with it blocking) just as the other began a write; here,
// every write may begin so. Each process of the gateway ends past such a write, with its code.
test('stdout a socket made blocking under the writes, whose reader stops reading: SIGTERM still ends every process of the gateway, cleanly', {
  timeout: 60_000,
}, async () => {
  assert.equal(await sigtermWithStalledLog('', 2, stopReadingOnceListening, true), 0);
});

test('a FIFO destination whose reader stopped reading: requests are still answered, and SIGTERM still ends the gateway', {
  timeout: 60_000,
}, async () => {
  const fifo = path.join(dir, 'stuck.fifo');
  execFileSync('mkfifo', [fifo]);
  // A reader that never reads (a log shipper that hung).
  const reader = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    assert.equal(await sigtermWithStalledLog(`log: { destination: ${fifo} }`, 1, async () => {}), 0);
  } finally {
    fs.closeSync(reader);
  }
});

test("the primary's own dropped lines are in the merged candor_log_lines_dropped_total", async () => {
  const upstream = await startEcho();
  const metricsPort = await freePort();
  const config = metricsConfig('primary-drops.yaml', metricsPort, upstream.url);
  const serve = await startServe(config, 1);
  try {
    // At warn, the workers write nothing here: the only line is the primary's on a worker's death.
    fs.appendFileSync(config, 'log: { level: warn }\n');
    serve.child.kill('SIGHUP');
    // (Its own line is at info, under the new level: the count says it went live.)
    for (
      let i = 0;
      i < 50 && !/candor_config_reloads_total\{result="success"\} 1$/m.test(await metricsText(metricsPort));
      i++
    )
      await new Promise((resolve) => setTimeout(resolve, 100));
    const primary = serve.child.pid as number;
    const children = () => childrenOf(primary);
    const [worker] = children();
    // What the processes wrote at info before the level changed (their start's lines) may still
    // be on its way in a batch under a loaded run: the pipe goes once it has been quiet a while,
    // or a line of before would be dropped and counted with the one this test is about.
    await quietFor(serve.child.stdout, 500, 10_000);
    serve.child.stdout?.destroy();
    assert.equal(dropped(await metricsText(metricsPort)), 0);
    // The primary logs "worker exited: starting another" (warn) to a pipe nobody reads.
    process.kill(worker, 'SIGKILL');
    await waitUntil('the notice on stderr', () =>
      serve.stderr().includes('the log destination refuses writes'),
    );
    await waitUntil('a new worker', () => children().length === 1 && children()[0] !== worker);
    let text = '';
    for (let i = 0; i < 50; i++) {
      try {
        text = await metricsText(metricsPort);
        if (text.includes('# TYPE')) break;
      } catch {
        // The new worker is still starting (a scrape it cannot answer yet is a 503).
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    assert.equal(dropped(text), 1, serve.stderr());
  } finally {
    serve.child.kill('SIGKILL');
    await upstream.close();
  }
});
