/**
 * The cluster primary runs without V8's optimizing compilers (their code is megabytes of the
 * node binary mapped into a process that runs little code), unless its config has it answer
 * a question a request: a gateway-wide rate limit without a store. bin/candor.js starts the
 * primary again with the flags on its command line (the same pid); its workers run without
 * them. Each compileFor case runs in a process of its own, which sets the flags as the primary
 * does and asks V8 to optimize a function.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { waitUntil } from '../../helpers/wait.ts';

const COMPILERS = join(import.meta.dirname, '../../../src/server/cluster/primary-compilers.ts');

/** Whether V8 optimized a hot function after compileFor(config) with these routes and store. */
function optimizesWith(config: { routes: object[]; store?: object }): boolean {
  const script = `
    const { compileFor } = await import(${JSON.stringify(COMPILERS)});
    compileFor(${JSON.stringify(config)});
    function hot(n) { let s = 0; for (let i = 0; i < n; i++) s += i; return s; }
    %PrepareFunctionForOptimization(hot);
    hot(10); hot(10);
    %OptimizeFunctionOnNextCall(hot);
    hot(10);
    // V8's status bits: 1 << 4 is "optimized" (Maglev or Turbofan).
    process.stdout.write(String((%GetOptimizationStatus(hot) & (1 << 4)) !== 0));
  `;
  const run = spawnSync(
    process.execPath,
    [
      '--no-maglev',
      '--no-turbofan',
      '--no-sparkplug',
      '--allow-natives-syntax',
      '--input-type=module',
      '-e',
      script,
    ],
    {
      encoding: 'utf8',
      timeout: 30_000,
    },
  );
  assert.equal(run.status, 0, run.stderr);
  return run.stdout === 'true';
}

test('a primary without a gateway-wide rate limit does not optimize', () => {
  assert.equal(optimizesWith({ routes: [{ name: 'app' }] }), false);
});

test('a gateway-wide rate limit answered by the primary (no store) turns the optimizing compilers on', () => {
  assert.equal(optimizesWith({ routes: [{ name: 'app', rateLimit: { rate: 10 } }] }), true);
});

test('a rate limit kept in the store leaves them off: the workers ask the store, not the primary', () => {
  assert.equal(
    optimizesWith({ routes: [{ name: 'app', rateLimit: { rate: 10 } }], store: { redis: {} } }),
    false,
  );
});

/** A process's command line, from /proc (Linux). */
const commandLine = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);

test('candor serve: the primary runs with the flags on its command line, under the pid it was started with; its worker without them', {
  skip: process.platform !== 'linux' && 'reads /proc',
}, async () => {
  const upstream = await startEcho();
  const dir = tempDir('candor-compilers-');
  const config = join(dir, 'candor.yaml');
  writeFileSync(
    config,
    `listen:\n  - address: 127.0.0.1:0\nroutes:\n  - match: { path: / }\n    upstream: app\nupstreams:\n  app:\n    targets: [ { url: "${upstream.url}" } ]\n`,
  );
  const serve = await startServe(config, 1);
  try {
    const primary = serve.child.pid as number;
    await waitUntil('the start line', () => serve.stderr().includes(' started: pid '));
    assert.match(
      serve.stderr(),
      new RegExp(` started: pid ${primary},`),
      'the start line names the pid started',
    );
    const primaryLine = commandLine(primary);
    assert.ok(
      primaryLine.includes('--no-maglev') &&
        primaryLine.includes('--no-turbofan') &&
        primaryLine.includes('--no-sparkplug') &&
        primaryLine.includes('--single-threaded-gc'),
      primaryLine.join(' '),
    );
    const [worker] = readFileSync(`/proc/${primary}/task/${primary}/children`, 'utf8')
      .trim()
      .split(' ')
      .map(Number);
    const workerLine = commandLine(worker);
    assert.ok(workerLine.includes('--max-semi-space-size=16'), `a worker: ${workerLine.join(' ')}`);
    assert.ok(
      !workerLine.includes('--no-maglev') &&
        !workerLine.includes('--no-turbofan') &&
        !workerLine.includes('--no-sparkplug') &&
        !workerLine.includes('--single-threaded-gc'),
      workerLine.join(' '),
    );
    assert.equal(await serve.stop(), 0);
  } finally {
    serve.child.kill('SIGKILL');
    await upstream.close();
  }
});
