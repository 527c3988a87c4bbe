/**
 * `candor-kit` as an app that wants only the client and the app kit gets it: packages/kit packed,
 * the tarball installed into an empty project, its dependencies counted (none), its JavaScript
 * checked to import nothing but Node's own modules and its own files, a TypeScript consumer checked
 * against the declarations it ships, then the client and the app kit run from node_modules.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startResetBeforeHead } from '../../src/kits/fault-kit/reset-faults.ts';
import { startRefusing } from '../../src/kits/fault-kit/unreachable-faults.ts';
import { closeAll } from '../helpers/keep.ts';
import { childEnv, ROOT, run } from '../helpers/package-tools.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { startTestGateway } from '../helpers/test-gateway.ts';
import { freePort } from '../helpers/wait.ts';

const KIT = join(ROOT, 'packages/kit');
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
const work = tempDir('candor-kit-pack-');
const app = join(work, 'app');
const installed = join(app, 'node_modules/candor-kit');

let packedFiles: string[] = [];
let upstream: http.Server;
let upstreamUrl = '';
const seenIds: (string | undefined)[] = [];

before(
  async () => {
    upstream = http.createServer((req, res) => {
      seenIds.push(req.headers['x-request-id'] as string | undefined);
      res.end(`upstream saw ${req.url}\n`);
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;

    const pack = await run('npm', ['pack', '--json', '--pack-destination', work], KIT, { timeout: 120_000 });
    assert.equal(pack.code, 0, `npm pack of packages/kit failed:\n${pack.stderr}`);
    const [packed] = JSON.parse(pack.stdout) as [{ filename: string; files: { path: string }[] }];
    packedFiles = packed.files.map((file) => file.path);

    mkdirSync(app);
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({ name: 'kit-consumer', private: true, type: 'module' }),
    );
    // --offline: a package with no dependency needs nothing from the registry; one that had any
    // would fail here rather than fetch it.
    const install = await run(
      'npm',
      ['install', '--offline', '--no-audit', '--no-fund', join(work, packed.filename)],
      app,
      { timeout: 120_000 },
    );
    assert.equal(install.code, 0, `npm install of the kit's tarball failed:\n${install.stderr}`);
  },
  { timeout: 240_000 },
);

after(async () => {
  await closeAll(upstream);
  rmSync(work, { recursive: true, force: true });
});

test('the kit installs alone: no runtime dependency, nothing else in node_modules', () => {
  const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'));
  for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies', 'bundleDependencies'])
    assert.equal(manifest[field], undefined, `candor-kit declares no ${field}`);
  const modules = readdirSync(join(app, 'node_modules')).filter((name) => !name.startsWith('.'));
  assert.deepEqual(modules, ['candor-kit'], 'the project holds the kit and nothing else');
});

test('the tarball holds the client and the app kit, compiled with declarations, and nothing of the gateway', () => {
  for (const path of [
    'package.json',
    'README.md',
    'LICENSE',
    'dist/kits/client/index.js',
    'dist/kits/client/index.d.ts',
    'dist/kits/app/index.js',
    'dist/kits/app/index.d.ts',
    'dist/core/failure/taxonomy.js',
  ])
    assert.ok(packedFiles.includes(path), `${path} is in the kit`);
  const gateway = packedFiles.filter((path) =>
    /^dist\/(server|proxy|upstream|observe|core\/config|kits\/(diagnose|explain|fault-kit))\//.test(path),
  );
  assert.deepEqual(gateway, [], 'no module of the gateway, its config or its other tools');
  const stray = packedFiles.filter(
    (path) => !/^(package\.json|README\.md|LICENSE)$/.test(path) && !/^dist\/.*\.(js|d\.ts)$/.test(path),
  );
  assert.deepEqual(stray, [], 'nothing but dist/ and the package files');
});

test("every import of the kit's JavaScript is one of its own files or a Node built-in", () => {
  const dist = join(installed, 'dist');
  const outside: string[] = [];
  for (const file of readdirSync(dist, { recursive: true, encoding: 'utf8' })) {
    if (!file.endsWith('.js')) continue;
    const source = readFileSync(join(dist, file), 'utf8');
    // Static imports and re-exports start a line of tsc's output; a dynamic import is a call.
    const specifiers = [
      ...source.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s*['"]([^'"]+)['"]/gm),
      ...source.matchAll(/^import\s*['"]([^'"]+)['"]/gm),
      ...source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
    ];
    for (const found of specifiers) {
      const specifier = found[1];
      if (!specifier.startsWith('.') && !specifier.startsWith('node:')) outside.push(`${file}: ${specifier}`);
    }
  }
  assert.deepEqual(outside, []);
});

const CONSUMER = `import { type AttemptReport, createFetch, runWithPropagation, UpstreamError } from 'candor-kit/client';
import { type AppEvent, failureAnswer, serveApp } from 'candor-kit/app';

const failed: AttemptReport[] = [];
const api: typeof fetch = createFetch({ attempts: 2, deadline: 5000, onAttemptFailed: (r) => failed.push(r) });
const answer = await runWithPropagation({ requestId: 'from-kit' }, () => api(\`\${process.env.UPSTREAM_URL}/from-kit\`));
let code: string | undefined;
let owed: { status: number; error: string | undefined } | undefined;
try {
  await createFetch({ attempts: 1 })(\`\${process.env.REFUSED_URL}/nothing\`);
} catch (error) {
  if (error instanceof UpstreamError) {
    code = error.code;
    const answer = failureAnswer(error, { accept: 'application/json', requestId: 'r-1' }, { name: 'shop', minimal: true });
    owed = { status: answer.status, error: answer.headers['proxy-status'] };
  }
}
// @ts-expect-error: attempts is a number
const misuse = () => createFetch({ attempts: '3' });
void misuse;

const events: string[] = [];
const served = await serveApp((_req, res) => res.end('app\\n'), {
  host: '127.0.0.1',
  ready: async () => true,
  shutdown: { delay: 0, timeout: 2_000 },
  signals: [],
  exit: false,
  log: (event: AppEvent) => events.push(event.msg),
});
await served.ready;
const ready = await fetch(\`http://127.0.0.1:\${served.port}/ready\`);
const report = await served.app.shutdown('done');
console.log(JSON.stringify({ status: answer.status, body: await answer.text(), code, owed, ready: ready.status, forced: report.forced }));
`;

test('a TypeScript consumer type-checks against the kit and runs the client and the app kit', {
  timeout: 180_000,
}, async () => {
  writeFileSync(join(app, 'consumer.ts'), CONSUMER);
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'es2024',
        module: 'nodenext',
        strict: true,
        noEmit: true,
        typeRoots: [join(ROOT, 'node_modules/@types')],
        types: ['node'],
      },
      files: ['consumer.ts'],
    }),
  );
  const tsc = await run(process.execPath, [TSC, '-p', app], app, { timeout: 150_000 });
  assert.equal(tsc.code, 0, `tsc against the kit's declarations:\n${tsc.stdout}${tsc.stderr}`);

  // A port that refuses a connection fetch tries (port 1 is one fetch blocks: "bad port").
  const refused = await startRefusing();
  const consumer = await run(process.execPath, ['consumer.ts'], app, {
    timeout: 30_000,
    env: { ...childEnv, UPSTREAM_URL: upstreamUrl, REFUSED_URL: refused.url },
  }).finally(() => refused.close());
  assert.equal(consumer.code, 0, consumer.stderr);
  assert.deepEqual(JSON.parse(consumer.stdout), {
    status: 200,
    body: 'upstream saw /from-kit\n',
    code: 'UPSTREAM_UNREACHABLE',
    owed: { status: 502, error: 'shop; error=connection_refused' },
    ready: 200,
    forced: 0,
  });
  assert.equal(seenIds.at(-1), 'from-kit', 'the request id in scope went out with the call');
});

// A TypeScript project of tsc's CommonJS defaults (module commonjs, so moduleResolution node10,
// which reads no `exports`; no esModuleInterop): the kit's typesVersions and its declarations'
// named imports of Node's modules are what let it find and check them.
const CJS_CONSUMER = `import { createFetch, type AttemptReport } from 'candor-kit/client';
import { type ServeAppOptions, serveApp } from 'candor-kit/app';

const seen: AttemptReport[] = [];
export const api = createFetch({ attempts: 2, onAttemptFailed: (report) => seen.push(report) });
export const options: ServeAppOptions = { port: 0, serverOptions: { keepAliveTimeout: 1000 } };
export const serve = serveApp;
// @ts-expect-error: attempts is a number
createFetch({ attempts: '3' });
`;

test('a CommonJS TypeScript project with the default module resolution (node10) type-checks against the kit', {
  timeout: 180_000,
}, async () => {
  const dir = join(app, 'cjs-ts');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'consumer.ts'), CJS_CONSUMER);
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'es2022',
        module: 'commonjs',
        strict: true,
        noEmit: true,
        typeRoots: [join(ROOT, 'node_modules/@types')],
        types: ['node'],
      },
      files: ['consumer.ts'],
    }),
  );
  const tsc = await run(process.execPath, [TSC, '-p', dir], dir, { timeout: 150_000 });
  assert.equal(
    tsc.code,
    0,
    `tsc (module commonjs) against the kit's declarations:\n${tsc.stdout}${tsc.stderr}`,
  );
});

// CommonJS (.cjs, whatever the project's type): require() of an ES module without top-level
// await, as Node >= 22.12 does, through the package's `module-sync` condition.
const REQUIRING = `const assert = require('node:assert/strict');
const client = require('candor-kit/client');
const app = require('candor-kit/app');
const manifest = require('candor-kit/package.json');
assert.equal(typeof client.createFetch, 'function');
assert.equal(typeof app.serveApp, 'function');
client.createFetch({ attempts: 1 })(\`\${process.env.UPSTREAM_URL}/required\`).then(async (answer) =>
  console.log(JSON.stringify({ name: manifest.name, status: answer.status, body: await answer.text() })),
);
`;

test('a CommonJS project require()s each export of the kit and runs the client', {
  timeout: 60_000,
}, async () => {
  const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'));
  assert.deepEqual(
    Object.keys(manifest.exports),
    ['./client', './app', './package.json'],
    'each export is required below',
  );
  writeFileSync(join(app, 'requiring.cjs'), REQUIRING);
  const consumer = await run(process.execPath, ['requiring.cjs'], app, {
    timeout: 30_000,
    env: { ...childEnv, UPSTREAM_URL: upstreamUrl },
  });
  assert.equal(consumer.code, 0, consumer.stderr);
  assert.deepEqual(JSON.parse(consumer.stdout), {
    name: 'candor-kit',
    status: 200,
    body: 'upstream saw /required\n',
  });
});

const THROUGH_GATEWAY = `import { type AttemptReport, createFetch } from 'candor-kit/client';

const gateway = process.env.GATEWAY_URL;
const seen: AttemptReport[] = [];
const api = createFetch({ attempts: 3, backoff: { base: 1, cap: 5 }, onAttemptFailed: (r) => seen.push(r) });
const brief = (r: AttemptReport) => ({ status: r.status, type: r.type, hop: r.proxyStatus?.nextHop, retry: r.retry, reason: r.reason, id: typeof r.requestId });
const refused = await api(\`\${gateway}/refused\`, { method: 'POST', body: 'order' });
const refusedReports = seen.splice(0).map(brief);
const reset = await api(\`\${gateway}/reset\`, { method: 'POST', body: 'order' });
const resetReports = seen.splice(0).map(brief);
console.log(JSON.stringify({ refused: refused.status, refusedReports, reset: reset.status, resetReports }));
`;

test('the packed client against a real gateway: a POST the gateway says never reached its upstream is sent again, one that did is not', {
  timeout: 60_000,
}, async () => {
  const resetting = await startResetBeforeHead();
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: /refused }
    upstream: down
  - match: { path: /reset }
    upstream: crashing
upstreams:
  down:
    targets: [{ url: "http://127.0.0.1:${await freePort()}" }]
    retries: { attempts: 1 }
  crashing:
    targets: [{ url: "${resetting.url}" }]
    retries: { attempts: 1 }
`);
  try {
    writeFileSync(join(app, 'through-gateway.ts'), THROUGH_GATEWAY);
    const consumer = await run(process.execPath, ['through-gateway.ts'], app, {
      timeout: 30_000,
      env: { ...childEnv, GATEWAY_URL: gw.url },
    });
    assert.equal(consumer.code, 0, consumer.stderr);
    const refusedTry = { status: 502, type: 'connection_refused', hop: 'down', id: 'string' };
    const resetTry = { status: 502, type: 'connection_terminated', hop: 'crashing', id: 'string' };
    assert.deepEqual(JSON.parse(consumer.stdout), {
      refused: 502,
      refusedReports: [
        { ...refusedTry, retry: true, reason: 'not_sent' },
        { ...refusedTry, retry: true, reason: 'not_sent' },
        { ...refusedTry, retry: false, reason: 'attempts' },
      ],
      reset: 502,
      resetReports: [{ ...resetTry, retry: false, reason: 'not_idempotent' }],
    });
    assert.equal(resetting.received.length, 1, 'the POST that may have been processed went once');
  } finally {
    await gw.close();
    await resetting.close();
  }
});
