/**
 * A worker's signals once its drain is over (README "Signals and drain"): a second Ctrl-C a
 * moment after the first reaches every process of the group, the workers too. A worker whose
 * drain had ended (its `drained` line written) stopped listening for signals before it exited,
 * so that second SIGINT killed it by Node's default action: its log unflushed, and the primary
 * said `worker did not end its drain cleanly` and exited 1 for a stop that was clean (with
 * `candor serve -w 2` on an idle gateway, a second SIGINT to the group 5 to 100 ms after the
 * first did so in 4 runs of 6). Here, in a process of its own, the worker's inbox is closed as
 * serve.ts closes it after the drain, then the process signals itself.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { tempDir } from '../../helpers/temp-dir.ts';
import { type CandorProcess, startCandor } from './candor-process.ts';

const SIGNALS = join(import.meta.dirname, '../../../src/server/gateway/signals.ts');

async function afterClose(
  signal: NodeJS.Signals,
): Promise<{ code: number | null; signal: string | null; out: string }> {
  const script = `
    const { listenForActions } = await import(${JSON.stringify(pathToFileURL(SIGNALS).href)});
    const inbox = listenForActions();
    inbox.attach(() => process.stdout.write('acted\\n'));
    inbox.close();
    process.kill(process.pid, ${JSON.stringify(signal)});
    // The worker's last moments: its log flushed, its channel closed; then it ends by itself.
    setImmediate(() => setImmediate(() => process.stdout.write('ended by itself\\n')));
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
  });
  const [code, killedBy] = await new Promise<[number | null, string | null]>((done) =>
    child.once('close', (c, s) => done([c, s])),
  );
  return { code, signal: killedBy, out };
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGQUIT'] as const) {
  test(`a ${signal} after the worker's drain ended does not kill it: it ends by itself, exit 0, acting on nothing`, async () => {
    const ended = await afterClose(signal);
    assert.deepEqual(ended, { code: 0, signal: null, out: 'ended by itself\n' });
  });
}

test("a worker that ended its drain and its process, a signal of the group's landing as Node tore it down, is a clean stop: exit 0, no 'did not end its drain cleanly'", async () => {
  // Node restores each signal's default action as a process ends (after its 'exit' event):
  // a second Ctrl-C landing then kills the worker, though it had drained and said so. The
  // hook makes that window certain: at the worker's 'exit' event, its SIGINT listeners go and
  // the worker signals itself, as the group's second SIGINT would land.
  const dir = tempDir('candor-signal-teardown-');
  const hook = join(dir, 'teardown-sigint.mjs');
  writeFileSync(
    hook,
    `import cluster from 'node:cluster';\nif (cluster.isWorker) process.on('exit', () => { process.removeAllListeners('SIGINT'); process.kill(process.pid, 'SIGINT'); });\n`,
  );
  const before = process.env.NODE_OPTIONS;
  process.env.NODE_OPTIONS = `${before ?? ''} --import ${pathToFileURL(hook).href}`.trim();
  let candor: CandorProcess;
  try {
    candor = await startCandor(
      'routes:\n  - upstream: app\nupstreams:\n  app:\n    targets:\n      - url: http://127.0.0.1:9\n',
      1,
    );
  } finally {
    if (before === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = before;
  }
  try {
    candor.primary.kill('SIGTERM');
    const exit = await candor.exited;
    assert.equal(candor.lines().filter((l) => l.msg === 'drained').length, 1, 'the worker drained');
    assert.deepEqual(
      candor.lines().filter((l) => l.msg === 'worker did not end its drain cleanly'),
      [],
    );
    assert.equal(exit.code, 0, candor.stderr());
  } finally {
    await candor.cleanup();
  }
});
