/**
 * The package as a user gets it: `npm pack`, the tarball installed without dev dependencies in a
 * folder of its own, then the command line and the library run from node_modules (where Node
 * strips no types, so this is the compiled dist/) on this Node, and a TypeScript program that
 * uses the library checked by the project's tsc against the declarations the package ships.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { docsSection } from '../helpers/docs-text.ts';
import { childEnv, ROOT, run } from '../helpers/package-tools.ts';

const VERSION: string = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
const work = mkdtempSync(join(tmpdir(), 'candor-pack-'));
const app = join(work, 'app');
const installed = join(app, 'node_modules/candor');

const candor = (args: readonly string[]) => run(join(app, 'node_modules/.bin/candor'), args, app);

interface Upstream {
  readonly url: string;
  /** The Via header of every request that reached it. */
  readonly via: (string | undefined)[];
  /** The x-request-id of every request that reached it. */
  readonly requestIds: (string | undefined)[];
  close(): Promise<void>;
}

/** The app behind the gateway: answers every request with one line naming its path. */
async function startUpstream(): Promise<Upstream> {
  const via: (string | undefined)[] = [];
  const requestIds: (string | undefined)[] = [];
  const server = http.createServer((req, res) => {
    via.push(req.headers.via);
    requestIds.push(req.headers['x-request-id'] as string | undefined);
    res.setHeader('content-type', 'text/plain');
    res.end(`upstream saw ${req.url}\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    via,
    requestIds,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function get(url: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false, timeout: 10_000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      })
      .on('timeout', function (this: http.ClientRequest) {
        this.destroy(new Error(`no answer from ${url} in 10 s`));
      })
      .on('error', reject);
  });
}

let upstream: Upstream;
/** Every path in the tarball, as `npm pack --json` lists them. */
let packedFiles: string[] = [];

before(
  async (t) => {
    upstream = await startUpstream();
    let started = performance.now();
    const pack = await run(
      'npm',
      ['pack', '--json', '--pack-destination', work, '--no-audit', '--no-fund'],
      ROOT,
      { timeout: 120_000 },
    );
    assert.equal(pack.code, 0, `npm pack failed:\n${pack.stderr}`);
    const packMs = performance.now() - started;
    const [packed] = JSON.parse(pack.stdout) as [{ filename: string; files: { path: string }[] }];
    packedFiles = packed.files.map((file) => file.path);

    mkdirSync(app);
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({ name: 'pack-consumer', private: true, type: 'module' }),
    );
    started = performance.now();
    const install = await run(
      'npm',
      ['install', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund', join(work, packed.filename)],
      app,
      { timeout: 120_000 },
    );
    assert.equal(install.code, 0, `npm install of the tarball failed:\n${install.stderr}`);
    t.diagnostic(
      `npm pack (with the prepack build) ${Math.round(packMs)} ms, npm install of the tarball ${Math.round(performance.now() - started)} ms`,
    );
  },
  { timeout: 240_000 },
);

after(async () => {
  await upstream?.close();
  rmSync(work, { recursive: true, force: true });
});

test('the tarball holds the command, the compiled JavaScript with declarations and the assets; no sources or tests', () => {
  for (const path of [
    'package.json',
    'bin/candor.js',
    'dist/index.js',
    'dist/index.d.ts',
    'dist/kits/client/index.js',
    'dist/kits/client/index.d.ts',
    'dist/server/cli/main.js',
    'dist/kits/app/index.js',
    'dist/kits/app/index.d.ts',
  ]) {
    assert.ok(packedFiles.includes(path), `${path} is in the package`);
  }
  assert.ok(
    packedFiles.includes('dist/server/demo/demo.yaml'),
    'the demo config the code reads is in the package',
  );
  for (const file of ['status-page.html', 'status-page.css', 'status-page.client.js', 'status-page.js'])
    assert.ok(
      packedFiles.includes(`dist/server/admin/${file}`),
      `the status page's ${file} is in the package`,
    );
  const stray = packedFiles.filter(
    (path) =>
      !/^(package\.json|README\.md|LICENSE|bin\/candor\.js|docs\/[a-z0-9-]+\.md)$/.test(path) &&
      !path.startsWith('docs/examples/') &&
      !(path.startsWith('dist/') && /\.(js|d\.ts|yaml|html|css)$/.test(path)),
  );
  assert.deepEqual(
    stray,
    [],
    'nothing but bin/, dist/, the docs pages, their examples and the package files',
  );
  // The README's map of the docs and `candor --help`'s config reference lead somewhere in the
  // installed package too.
  const readme = readFileSync(join(installed, 'README.md'), 'utf8');
  const pages = [...readme.matchAll(/\]\((docs\/[a-z0-9-]+\.md)(#[^)]*)?\)/g)].map((m) => m[1]);
  assert.ok(pages.includes('docs/configuration.md'), 'the README links the config reference');
  for (const page of new Set(pages)) assert.ok(existsSync(join(installed, page)), `${page} is installed`);
  assert.equal(existsSync(join(installed, 'src')), false, 'no src/ installed');
  assert.equal(existsSync(join(app, 'node_modules/typescript')), false, 'no dev dependency installed');
});

test('candor --version prints the package version', async () => {
  const version = await candor(['--version']);
  assert.equal(version.code, 0, version.stderr);
  assert.equal(version.stdout, `candor ${VERSION}\n`);
});

test('candor check validates the demo config shipped in the package', async () => {
  const check = await candor(['check', join(installed, 'dist/server/demo/demo.yaml')]);
  assert.equal(check.code, 0, check.stderr);
  assert.match(check.stdout, /demo\.yaml: ok \(gateway "candor-demo", 1 listener\(s\), 12 route\(s\)/);
});

test("candor check accepts the config reference's complete example as installed, the files it names beside it", async () => {
  // docs/configuration.md tells the reader to run this on it: the example must be in the package.
  const example = join(installed, 'docs/examples/complete.yaml');
  const check = await run(join(app, 'node_modules/.bin/candor'), ['check', example], app, {
    env: { ...childEnv, CANDOR_ADMIN_TOKEN: 'example-token-0123456789abcdef' },
  });
  assert.equal(check.code, 0, check.stderr);
  assert.match(check.stdout, /complete\.yaml: ok/);
});

test('candor serve answers a proxied request, then drains on SIGTERM and exits 0', async () => {
  const config = join(work, 'serve.yaml');
  writeFileSync(
    config,
    [
      'name: packed-edge',
      'listen:',
      '  - address: 127.0.0.1:0',
      'routes:',
      '  - match: { path: / }',
      '    upstream: app',
      'upstreams:',
      '  app:',
      '    targets:',
      `      - url: ${upstream.url}`,
      '',
    ].join('\n'),
  );
  const child = spawn(
    join(app, 'node_modules/.bin/candor'),
    ['serve', '--config', config, '--workers', '1'],
    {
      cwd: app,
      env: childEnv,
      timeout: 30_000,
      killSignal: 'SIGKILL',
    },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout.on('data', (chunk) => {
        stdout += chunk;
        const listening = /"address":"127\.0\.0\.1:(\d+)"/.exec(stdout);
        if (listening) resolve(Number(listening[1]));
      });
      void exited.then((code) =>
        reject(new Error(`serve exited ${code} before listening:\n${stdout}${stderr}`)),
      );
    });
    const answer = await get(`http://127.0.0.1:${port}/hello`);
    assert.equal(answer.status, 200);
    assert.equal(answer.body, 'upstream saw /hello\n');
    assert.match(answer.headers.via ?? '', /^1\.1 packed-edge$/);
    assert.match(upstream.via.at(-1) ?? '', /^1\.1 packed-edge$/);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, `exit status after SIGTERM; stderr:\n${stderr}`);
  } finally {
    child.kill('SIGKILL');
  }
});

test('candor serve --demo from the installed package: the banner, a misbehaving upstream told true, diagnose and explain on it, then Ctrl-C exits 0', {
  timeout: 60_000,
}, async () => {
  const child = spawn(join(app, 'node_modules/.bin/candor'), ['serve', '--demo', '--workers', '1'], {
    cwd: app,
    env: { ...childEnv, CANDOR_PORT: '0', CANDOR_TLS_PORT: '0', CANDOR_ADMIN_PORT: '0' },
    timeout: 45_000,
    killSignal: 'SIGKILL',
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    const base = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (chunk) => {
        stderr += chunk;
        const at = /gateway "candor-demo" on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
        if (at && stderr.includes(' started: pid ')) resolve(at[1]);
      });
      void exited.then((code) => reject(new Error(`the demo exited ${code}:\n${stderr}`)));
    });
    const refused = await get(`${base}/refused`);
    assert.equal(refused.status, 502);
    assert.match(String(refused.headers['proxy-status']), /^candor-demo; error=connection_refused; /);
    const diagnosed = await candor(['diagnose', `${base}/refused`]);
    assert.equal(diagnosed.code, 1, diagnosed.stderr);
    assert.match(diagnosed.stdout, /made by the proxy "candor-demo" there: connection_refused/);
    const log = join(work, 'demo-access.log');
    await waitFor(() => stdout.includes('"path":"/refused"'));
    writeFileSync(log, stdout);
    const explained = await candor(['explain', log]);
    assert.equal(explained.code, 0, explained.stderr);
    assert.match(explained.stdout, /connection_refused +\d+ +502 /);
    child.kill('SIGINT');
    assert.equal(await exited, 0, `exit status after Ctrl-C; stderr:\n${stderr}`);
  } finally {
    child.kill('SIGKILL');
  }
});

/** Resolves once `done` holds, checked every 50 ms (the test's own timeout bounds it). */
async function waitFor(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((resolve) => setTimeout(resolve, 50));
}

/** Right use of the library: type-checked, then run by Node (the consumer's own types stripped, candor's JavaScript). */
const CONSUMER = `import { type ConfigObject, ConfigError, configFromObject, type Gateway, loadConfigFile, startGateway } from 'candor';

const config: ConfigObject = {
  name: 'library-edge',
  listen: [{ address: '127.0.0.1:0' }],
  routes: [{ match: { path: '/' }, upstream: 'app' }],
  upstreams: { app: { targets: [{ url: '\${UPSTREAM_URL}' }], timeouts: { response: '5s' } } },
  log: { level: 'silent' },
};
const gateway: Gateway = await startGateway(configFromObject(config));
const port: number = gateway.listeners[0].port();
const answer = await fetch(\`http://127.0.0.1:\${port}/from-library\`);
const result = { status: answer.status, body: await answer.text(), via: answer.headers.get('via') };
await gateway.close();

let problems: string[] = [];
try {
  await loadConfigFile(process.argv[2]);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  problems = error.problems.map((problem) => \`\${problem.line} \${problem.path}\`);
}
console.log(JSON.stringify({ ...result, problems }));
`;

/** Wrong uses: each line must fail to type-check (an unused @ts-expect-error fails tsc). */
const MISUSE = `import { configFromObject, type Gateway, loadConfigFile, parseConfig, startGateway } from 'candor';
import { createApp } from 'candor/app';
// @ts-expect-error: internals are not part of the API
import { createRuntime } from 'candor';
// @ts-expect-error: nor reachable by a deep import
import { runServe } from 'candor/dist/server/cli/serve.js';

// @ts-expect-error: startGateway takes a validated config, not a file name
await startGateway('candor.yaml');
// @ts-expect-error: a listener is a mapping with an address, not a port number
configFromObject({ listen: [8080], routes: [{ match: { path: '/' }, upstream: 'app' }], upstreams: {} });
configFromObject({
  listen: [{ address: '127.0.0.1:0' }],
  routes: [{ match: { path: '/' }, upstream: 'app' }],
  // @ts-expect-error: a misspelt key ("upstreams")
  upstream: {},
});
// @ts-expect-error: candor/app's times are milliseconds, not duration strings
createApp({ shutdown: { delay: '15s' } });
// @ts-expect-error: the readiness check is a function, not a flag
createApp({ ready: true });
// @ts-expect-error: parseConfig needs the source the text came from
parseConfig('listen: []');
// @ts-expect-error: loading a file gives a config, not a running gateway
const gateway: Gateway = await loadConfigFile('candor.yaml');
export { createRuntime, gateway, runServe };
`;

/** `candor/client` as an app uses it: type-checked (a misuse must fail), then run against the upstream. */
const CLIENT_CONSUMER = `import { type AttemptReport, CLIENT_DEFAULTS, createFetch, runWithPropagation, UpstreamError } from 'candor/client';

const failed: AttemptReport[] = [];
const api: typeof fetch = createFetch({ attempts: 2, deadline: 5000, onAttemptFailed: (r) => failed.push(r) });
const answer = await runWithPropagation({ requestId: 'from-packed-client' }, () => api(\`\${process.env.UPSTREAM_URL}/from-client\`));
let code: string | undefined;
try {
  await createFetch({ attempts: 1 })(\`\${process.env.REFUSED_URL}/nothing\`);
} catch (error) {
  if (error instanceof UpstreamError) code = error.code;
}
let misuse: string | undefined;
try {
  // @ts-expect-error: attempts is a number (and a bad option throws at run time too)
  createFetch({ attempts: '3' });
} catch (error) {
  misuse = (error as Error).name;
}
console.log(JSON.stringify({ status: answer.status, body: await answer.text(), failed: failed.length, code, misuse, attempts: CLIENT_DEFAULTS.attempts }));
`;

/** `candor/app` from the installed package: the probes of a server it runs, then its shutdown. */
const APP_CONSUMER = `import { type AppEvent, type ShutdownReport, serveApp } from 'candor/app';

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
const app = await fetch(\`http://127.0.0.1:\${served.port}/\`);
const report: ShutdownReport = await served.app.shutdown('done');
console.log(
  JSON.stringify({
    ready: ready.status,
    keepAlive: ready.headers.get('keep-alive'),
    app: await app.text(),
    forced: report.forced,
    events,
  }),
);
`;

/** The README's example under `heading` ("Use it as a library", "candor/client", "candor/app"), checked as written. */
function readmeExample(heading = 'Use it as a library'): string {
  const section = docsSection(heading);
  const example = /```ts\n([\s\S]*?)```/.exec(section);
  assert.ok(example, `README "${heading}" has a ts example`);
  return example[1];
}

// tsc checks the whole program, @types/node and the package's dependencies included: 18 s seen
// on a loaded 2-core machine, too close to the suite's 60 s default.
test('a TypeScript consumer type-checks against the shipped declarations (nodenext and bundler resolution), misuses do not, and it runs a gateway; candor/client imports and calls', {
  timeout: 180_000,
}, async () => {
  writeFileSync(join(app, 'consumer.ts'), CONSUMER);
  writeFileSync(join(app, 'misuse.ts'), MISUSE);
  writeFileSync(join(app, 'readme-example.ts'), readmeExample());
  writeFileSync(join(app, 'client-consumer.ts'), CLIENT_CONSUMER);
  writeFileSync(join(app, 'readme-client-example.ts'), readmeExample('candor/client'));
  writeFileSync(join(app, 'app-consumer.ts'), APP_CONSUMER);
  writeFileSync(join(app, 'readme-app-example.ts'), readmeExample('candor/app'));
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'es2024',
        module: 'nodenext',
        strict: true,
        noEmit: true,
        // A TypeScript program on Node has @types/node: the checkout's stands in for it.
        typeRoots: [join(ROOT, 'node_modules/@types')],
        types: ['node'],
      },
      files: [
        'consumer.ts',
        'misuse.ts',
        'readme-example.ts',
        'client-consumer.ts',
        'readme-client-example.ts',
        'app-consumer.ts',
        'readme-app-example.ts',
      ],
    }),
  );
  const tsc = await run(process.execPath, [TSC, '-p', app], app, { timeout: 150_000 });
  assert.equal(tsc.code, 0, `tsc on the consumer:\n${tsc.stdout}${tsc.stderr}`);
  // A bundled app (Vite, esbuild, webpack) resolves the same entry points by the same exports.
  writeFileSync(
    join(app, 'tsconfig.bundler.json'),
    JSON.stringify({
      extends: './tsconfig.json',
      compilerOptions: { module: 'esnext', moduleResolution: 'bundler' },
      files: ['consumer.ts', 'misuse.ts', 'client-consumer.ts', 'app-consumer.ts'],
    }),
  );
  const bundler = await run(process.execPath, [TSC, '-p', join(app, 'tsconfig.bundler.json')], app, {
    timeout: 150_000,
  });
  assert.equal(
    bundler.code,
    0,
    `tsc on the consumer, bundler resolution:\n${bundler.stdout}${bundler.stderr}`,
  );

  writeFileSync(join(work, 'bad.yaml'), 'listen:\n  - address: nowhere\n');
  const consumer = await run(process.execPath, ['consumer.ts', join(work, 'bad.yaml')], app, {
    timeout: 30_000,
    env: { ...childEnv, UPSTREAM_URL: upstream.url },
  });
  assert.equal(consumer.code, 0, `the consumer ran:\n${consumer.stderr}`);
  assert.deepEqual(JSON.parse(consumer.stdout), {
    status: 200,
    body: 'upstream saw /from-library\n',
    via: '1.1 library-edge',
    problems: ['1 routes', '2 listen[0].address'],
  });
  // candor/client from the installed package: the propagated request id reaches the upstream.
  const refused = http.createServer();
  await new Promise<void>((resolve) => refused.listen(0, '127.0.0.1', resolve));
  const refusedUrl = `http://127.0.0.1:${(refused.address() as AddressInfo).port}`;
  await new Promise<void>((resolve) => refused.close(() => resolve()));
  const client = await run(process.execPath, ['client-consumer.ts'], app, {
    timeout: 30_000,
    env: { ...childEnv, UPSTREAM_URL: upstream.url, REFUSED_URL: refusedUrl },
  });
  assert.equal(client.code, 0, `the client consumer ran:\n${client.stderr}`);
  assert.deepEqual(JSON.parse(client.stdout), {
    status: 200,
    body: 'upstream saw /from-client\n',
    failed: 0,
    code: 'UPSTREAM_UNREACHABLE',
    misuse: 'TypeError',
    attempts: 3,
  });
  assert.equal(upstream.requestIds.at(-1), 'from-packed-client');

  const appConsumer = await run(process.execPath, ['app-consumer.ts'], app, { timeout: 30_000 });
  assert.equal(appConsumer.code, 0, `the candor/app consumer ran:\n${appConsumer.stderr}`);
  assert.deepEqual(JSON.parse(appConsumer.stdout), {
    ready: 200,
    keepAlive: 'timeout=65',
    app: 'app\n',
    forced: 0,
    events: ['ready', 'draining: not ready', 'draining: stopped accepting', 'stopped'],
  });
});
