/**
 * The cluster primary runs without V8's optimizing compilers (their code is megabytes of the
 * node binary mapped into a process that runs little code), unless its config has it answer
 * a question a request: a gateway-wide rate limit without a store. Each case runs in a process
 * of its own, which sets the flags as the primary does and asks V8 to optimize a function.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';

const COMPILERS = join(import.meta.dirname, '../../../src/server/cli/primary-compilers.ts');

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
  const run = spawnSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 30_000,
  });
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
