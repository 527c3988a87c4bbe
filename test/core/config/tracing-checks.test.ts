/**
 * The OpenTelemetry SDK is an optional peer of the package (tracing-checks.ts): the packages a
 * config with `tracing` needs are exactly those the tracing provider imports, and one missing is
 * a config problem naming what to install. test/package/pack.test.ts runs it on an install
 * without them.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ConfigProblem } from '../../../src/core/config/config-error.ts';
import { checkTracingPackages, tracingPackages } from '../../../src/core/config/tracing-checks.ts';

const ROOT = join(import.meta.dirname, '../../..');
const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

test("the packages tracing needs are the provider's imports: optional peers, dev dependencies for the tests, no dependency", () => {
  const provider = readFileSync(join(ROOT, 'src/observe/tracing/provider.ts'), 'utf8');
  const imported = [
    ...new Set([...provider.matchAll(/from '(@opentelemetry\/[^']+)'/g)].map((m) => m[1])),
  ].sort();
  assert.deepEqual(Object.keys(tracingPackages()).sort(), imported);
  for (const name of imported) {
    assert.equal(manifest.peerDependenciesMeta[name]?.optional, true, name);
    assert.equal(manifest.devDependencies[name], manifest.peerDependencies[name], name);
    assert.equal(manifest.dependencies[name], undefined, name);
  }
});

const check = (document: unknown, missing: readonly string[]) => {
  const problems: Omit<ConfigProblem, 'file' | 'line' | 'column'>[] = [];
  const asked: string[] = [];
  checkTracingPackages(
    document,
    (path, message) => problems.push({ path: path.join('.'), message }),
    (name) => {
      asked.push(name);
      return !missing.includes(name);
    },
  );
  return { problems, asked };
};

test('a tracing section whose SDK is not all installed is one problem, naming what is missing and the command', () => {
  const { problems } = check({ tracing: { otlp_endpoint: 'http://127.0.0.1:4318/v1/traces' } }, [
    '@opentelemetry/api',
    '@opentelemetry/sdk-trace-base',
  ]);
  const install = Object.entries(tracingPackages())
    .map(([name, range]) => `${name}@"${range}"`)
    .join(' ');
  assert.deepEqual(problems, [
    {
      path: 'tracing',
      message: `tracing needs the OpenTelemetry SDK, an optional dependency of candor, and @opentelemetry/api, @opentelemetry/sdk-trace-base are not installed: install them beside candor (npm install ${install}), or remove the tracing section`,
    },
  ]);
});

test('with the SDK installed, or no tracing section (where nothing is even looked for), no problem', () => {
  assert.deepEqual(check({ tracing: { otlp_endpoint: 'http://127.0.0.1:4318/v1/traces' } }, []).problems, []);
  assert.deepEqual(check({ routes: [] }, Object.keys(tracingPackages())), { problems: [], asked: [] });
});

test('in this checkout the SDK resolves: a config with tracing loads', () => {
  const problems: string[] = [];
  checkTracingPackages({ tracing: {} }, (_path, message) => problems.push(message));
  assert.deepEqual(problems, []);
});
