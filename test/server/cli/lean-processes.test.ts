/**
 * What each process of `candor serve` loads: the supervising primary imports neither the data
 * path nor the config's reader and schema (a process of its own reads the file), and a worker
 * loads what is optional only when its config asks for it. Every module is memory in every
 * process that loads it: the YAML reader and the schema are about 24 MB, ioredis 22, node:http2 6.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { killAtExit } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort } from '../../helpers/wait.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');
const HOOK = join(import.meta.dirname, '../../helpers/record-imports.mjs');

/**
 * Loaded by no process of a gateway whose config has no tracing, no store, no metrics listener,
 * no ACME and no JWT route: what orders certificates (jose for its signatures, node:https) is
 * about 20 MB, jose alone 12.
 */
const NEVER = [
  /\/node_modules\/jose\//,
  /\/src\/server\/acme\/(?!automatic-https\.ts$)/,
  /^node:https$/,
  /\/node_modules\/@opentelemetry\//,
  /\/node_modules\/ioredis\//,
  /\/node_modules\/prom-client\/index\.js$/,
  /^node:http$/,
  /^node:http2$/,
  // However they come: the global fetch's classes (Response, Headers…) load undici, and undici
  // node:http and node:http2, some 5 MiB of a worker (a class extending Response at a module's
  // top did, for every worker).
  /^builtin:http$/,
  /^builtin:http2$/,
  /^builtin:internal\/deps\/undici\/undici$/,
];
/**
 * Not in the primary either: the config's reader and schema, the request path, and
 * node:inspector (a SIGUSR1 early in its start may have opened the inspector: it is loaded to
 * close it then).
 */
const NOT_IN_PRIMARY = [
  ...NEVER,
  /^builtin:inspector$/,
  /\/node_modules\/@sinclair\/typebox\//,
  /\/node_modules\/yaml\//,
  /\/node_modules\/prom-client\//,
  /\/src\/proxy\/(accept|session|forward|route)\//,
  /\/src\/core\/config\/(load|schema|validate)\.ts$/,
];
/** Not in a worker: it is sent its config ready-made. */
const NOT_IN_WORKER = [...NEVER, /\/node_modules\/@sinclair\/typebox\//, /\/node_modules\/yaml\//];
/**
 * Not in a primary whose config does not use them: the health checks (and the upstream
 * connections they probe with), DNS discovery, the gateway's rate limits, the canary
 * controller and its statistics, the admin API's endpoints and status page; and node:crypto,
 * some twenty modules, which the primary does not need for the config's hash (the process
 * that reads the config sends it along).
 */
const UNUSED_IN_PRIMARY = [
  /^builtin:crypto$/,
  // What node:fs, node:util and node:net bring when imported as ES modules (their facades read
  // every lazy export): fs/promises with readline, BlockList, SocketAddress; and node:perf_hooks,
  // which the global `performance` loads whole. Together about 2 MiB of the primary's memory.
  /^builtin:internal\/fs\/promises$/,
  /^builtin:internal\/readline\/interface$/,
  /^builtin:internal\/blocklist$/,
  /^builtin:perf_hooks$/,
  // DNS: node:net's listen looks the host up even when it is an address, so whether the
  // listeners' addresses can be had is found by the process that reads the config (about 1 MiB).
  /^builtin:dns$/,
  // pino: the primary writes its few lines itself (primary-log.ts); pino, its CommonJS modules
  // and what they load (worker_threads, assert) are about 2.6 MiB.
  /\/node_modules\/pino\//,
  /^builtin:worker_threads$/,
  /^builtin:assert$/,
  // node:v8 and node:vm: the primary's compilers are set on its command line, and its idle
  // trim's collector is the `gc` that `--expose-gc` gives it (bin/candor.js), where node:vm would
  // make a second context for it: about 0.5 MiB.
  /^builtin:v8$/,
  /^builtin:vm$/,
  /\/src\/server\/admin\/(endpoints|status-page)\.ts$/,
  /\/src\/upstream\/(health|connections|discovery|targets)\//,
  /\/src\/proxy\/admit\//,
  /\/src\/server\/canary\/canary-(controller|fleet)\.ts$/,
  /\/src\/core\/stats\//,
  // What answers the admin API's questions (statuses, events, canary windows merged) and
  // purges: loaded with the first (cluster-control.ts), some 40 KB of source.
  /\/src\/server\/cluster\/(cluster-queries|cluster-purge|status-merge)\.ts$/,
  /\/src\/upstream\/canary\//,
  /\/src\/observe\/metrics\/activity\.ts$/,
  // The admin API's token: read when the config has an admin section (primary-admin.ts).
  /\/src\/core\/config\/(admin-checks|secrets)\.ts$/,
  // What checks and keeps the admin API's runtime changes, and every default of the config
  // with it: loaded with the first change (cluster-control.ts).
  /\/src\/server\/gateway\/runtime-changes\.ts$/,
  /\/src\/core\/config\/defaults\.ts$/,
];
/**
 * Not in a primary never reloaded: what reads the file for a reload and the workers' answers
 * to it, loaded with the first reload (cluster-reloads.ts).
 */
const UNTIL_A_RELOAD = [
  /\/src\/server\/cluster\/(reload-read|reload-report)\.ts$/,
  /\/src\/core\/config\/env-templates\.ts$/,
];

/**
 * The modules each process of `candor serve --workers 1` loaded, by the time it served and (with
 * `reload`) reloaded: one route to `upstream`, with the upstream's own lines (`upstreamLines`,
 * e.g. a health check).
 */
async function importsOf(
  upstream: string,
  upstreamLines = '',
  reload = true,
): Promise<{ primary: string[]; worker: string[] }> {
  const dir = tempDir('candor-lean-');
  const config = join(dir, 'candor.yaml');
  writeFileSync(
    config,
    `name: lean
listen:
  - address: 127.0.0.1:${await freePort()}
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets: [ { url: "${upstream}" } ]
${upstreamLines}log:
  destination: ${join(dir, 'candor.log')}
`,
  );
  const imports = join(dir, 'imports.log');
  const child = killAtExit(
    spawn(process.execPath, ['--import', HOOK, BIN, 'serve', '--workers', '1', '--config', config], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, CANDOR_TEST_IMPORTS: imports },
    }),
  );
  try {
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr?.on('data', (chunk) => {
        stderr += chunk;
        if (stderr.includes(' started: pid ')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
    });
    if (reload) {
      // A reload, and the primary's line on it: what reloading and writing a line load is counted.
      child.kill('SIGHUP');
      const log = join(dir, 'candor.log');
      for (let i = 0; i < 400 && !readFileSync(log, 'utf8').includes('"config reloaded"'); i++)
        await new Promise((resolve) => setTimeout(resolve, 25));
      assert.match(readFileSync(log, 'utf8'), /"config reloaded"/);
    }
    const code = await new Promise<number | null>((resolve) => {
      child.once('exit', (c) => resolve(c));
      child.kill('SIGTERM');
    });
    assert.equal(code, 0);
    const byPid = new Map<number, string[]>();
    for (const line of readFileSync(imports, 'utf8').trim().split('\n')) {
      const [pid, url] = line.split(' ');
      byPid.set(Number(pid), [...(byPid.get(Number(pid)) ?? []), url]);
    }
    const primary = byPid.get(child.pid as number) ?? [];
    const workers = [...byPid].filter(([pid]) => pid !== child.pid).map(([, urls]) => urls);
    assert.equal(workers.length, 1, 'one worker recorded its imports');
    assert.ok(
      primary.some((url) => url.endsWith('/src/server/cli/primary.ts')),
      'the primary recorded its imports',
    );
    assert.ok(
      workers[0].some((url) => url.endsWith('/src/server/gateway/gateway.ts')),
      'the worker runs the gateway',
    );
    return { primary, worker: workers[0] };
  } finally {
    child.kill('SIGKILL');
  }
}

const loaded = (urls: string[], patterns: RegExp[]) =>
  [...new Set(urls)].filter((url) => patterns.some((p) => p.test(url)));

test('the primary supervises without the data path or the config reader; a worker loads nothing its config does not use', async () => {
  const upstream = await startEcho();
  try {
    const { primary, worker } = await importsOf(
      upstream.url,
      '    health_check: { path: /, interval: 1s }\n',
    );
    assert.deepEqual(loaded(primary, NOT_IN_PRIMARY), [], 'loaded by the primary');
    assert.deepEqual(loaded(worker, NOT_IN_WORKER), [], 'loaded by the worker');
    assert.ok(
      primary.some((url) => url.endsWith('/src/upstream/health/gateway-checks.ts')),
      'the primary runs the health checks the config asks for',
    );
  } finally {
    await upstream.close();
  }
});

test('a primary whose config has no health checks, DNS discovery, rate limit, canary, ACME or admin API loads none of them', async () => {
  const upstream = await startEcho();
  try {
    const { primary } = await importsOf(upstream.url);
    assert.deepEqual(loaded(primary, NOT_IN_PRIMARY), [], 'loaded by the primary');
    assert.deepEqual(loaded(primary, UNUSED_IN_PRIMARY), [], 'loaded by the primary, unused');
  } finally {
    await upstream.close();
  }
});

test('a primary never reloaded loads nothing of a reload until the first', async () => {
  const upstream = await startEcho();
  try {
    const { primary } = await importsOf(upstream.url, '', false);
    assert.deepEqual(loaded(primary, UNTIL_A_RELOAD), [], 'loaded by the primary before a reload');
    assert.deepEqual(loaded(primary, UNUSED_IN_PRIMARY), [], 'loaded by the primary, unused');
  } finally {
    await upstream.close();
  }
});
