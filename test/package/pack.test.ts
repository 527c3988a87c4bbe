/**
 * The package as a user gets it: `npm pack`, the tarball installed without dev dependencies in a
 * folder of its own, then the command line and the library run from node_modules (where Node
 * strips no types, so this is the compiled dist/) on this Node, and a TypeScript program that
 * uses the library checked by the project's tsc against the declarations the package ships.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startRefusing } from '../../src/kits/fault-kit/unreachable-faults.ts';
import { docsSection } from '../helpers/docs-text.ts';
import { childEnv, MINIMUM_NODE, ROOT, run } from '../helpers/package-tools.ts';
import { APP_CONSUMER, CLIENT_CONSUMER, CONSUMER, MISUSE } from '../helpers/packed-consumers.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const VERSION: string = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
const work = tempDir('candor-pack-');
const app = join(work, 'app');
const installed = join(app, 'node_modules/candor');

const candor = (args: readonly string[]) => run(join(app, 'node_modules/.bin/candor'), args, app);

interface Upstream {
  readonly url: string;
  /** The Via header of every request that reached it. */
  readonly via: (string | undefined)[];
  /** The x-request-id of every request that reached it. */
  readonly requestIds: (string | undefined)[];
  /** The x-tag (a plugin's header) of every request that reached it. */
  readonly tags: (string | undefined)[];
  close(): Promise<void>;
}

/** The app behind the gateway: answers every request with one line naming its path. */
async function startUpstream(): Promise<Upstream> {
  const via: (string | undefined)[] = [];
  const requestIds: (string | undefined)[] = [];
  const tags: (string | undefined)[] = [];
  const server = http.createServer((req, res) => {
    via.push(req.headers.via);
    requestIds.push(req.headers['x-request-id'] as string | undefined);
    tags.push(req.headers['x-tag'] as string | undefined);
    res.setHeader('content-type', 'text/plain');
    res.end(`upstream saw ${req.url}\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    via,
    requestIds,
    tags,
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
      // The prepack build (tsc over src/) took 52–77 s on a machine slowed to a third, and over
      // 120 s beside other load: a bound for a hang, not a schedule.
      { timeout: 240_000 },
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
  { timeout: 420_000 },
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
  const pageModules = readdirSync(join(ROOT, 'src/server/admin/status-page')).map((m) => `status-page/${m}`);
  assert.ok(pageModules.length > 0);
  for (const file of [
    'status-page.html',
    'status-page.css',
    'status-page.client.js',
    'status-page.js',
    ...pageModules,
  ])
    assert.ok(
      packedFiles.includes(`dist/server/admin/${file}`),
      `the status page's ${file} is in the package`,
    );
  const stray = packedFiles.filter(
    (path) =>
      !/^(package\.json|README\.md|CHANGELOG\.md|LICENSE|bin\/candor\.js|docs\/[a-z0-9-]+\.(md|png))$/.test(
        path,
      ) &&
      !path.startsWith('docs/examples/') &&
      !(path.startsWith('dist/') && /\.(js|d\.ts|yaml|html|css)$/.test(path)),
  );
  assert.deepEqual(
    stray,
    [],
    'nothing but bin/, dist/, the docs pages (their images), their examples, the changelog and the package files',
  );
  // The README's map of the docs and `candor --help`'s config reference lead somewhere in the
  // installed package too.
  const readme = readFileSync(join(installed, 'README.md'), 'utf8');
  const pages = [...readme.matchAll(/\]\((docs\/[a-z0-9-]+\.md)(#[^)]*)?\)/g)].map((m) => m[1]);
  assert.ok(pages.includes('docs/configuration.md'), 'the README links the config reference');
  for (const page of new Set(pages)) assert.ok(existsSync(join(installed, page)), `${page} is installed`);
  // Every page of the README's "Documentation" table (CHANGELOG.md among them), and every image
  // an installed page shows, are installed: a reader of node_modules/candor follows the same links.
  const table = /\n## Documentation\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? '';
  const documented = [...table.matchAll(/\]\(([^)#]+)(#[^)]*)?\)/g)].map((m) => m[1]);
  assert.ok(documented.includes('CHANGELOG.md'), 'the README documents the changelog');
  for (const page of documented) assert.ok(existsSync(join(installed, page)), `${page} is installed`);
  for (const page of readdirSync(join(installed, 'docs')).filter((name) => name.endsWith('.md')))
    for (const [, image] of readFileSync(join(installed, 'docs', page), 'utf8').matchAll(
      /!\[[^\]]*\]\(([^)]+)\)/g,
    ))
      assert.ok(existsSync(join(installed, 'docs', image)), `docs/${page} shows ${image}: installed`);
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

test("candor check accepts the config reference's complete example as installed, the files it names beside it, but for its tracing without the SDK", async () => {
  // docs/configuration.md tells the reader to run this on it: the example must be in the package.
  // Its tracing section needs the OpenTelemetry SDK, an optional peer not installed here: that
  // is its one problem, and the same file without it is accepted. Its plugin is TypeScript,
  // which Node strips only outside node_modules: checked where a user puts it, the examples
  // copied beside their config (as installed, the plugin's problem says so).
  const examples = join(work, 'examples');
  cpSync(join(installed, 'docs/examples'), examples, { recursive: true });
  const example = join(examples, 'complete.yaml');
  const env = {
    ...childEnv,
    CANDOR_ADMIN_TOKEN: 'example-token-0123456789abcdef',
    CANDOR_TSIG_SECRET: 'c2VjcmV0LW9mLXRoZS1leGFtcGxlLWtleQ==',
    CANDOR_OIDC_SECRET: 'example-client-secret',
    CANDOR_SESSION_SECRET: 'example-session-secret-0123456789abcdef',
  };
  const check = await run(join(app, 'node_modules/.bin/candor'), ['check', example], app, { env });
  assert.equal(check.code, 78, check.stderr);
  assert.match(check.stderr, /complete\.yaml:\d+:1 +tracing: tracing needs the OpenTelemetry SDK/);
  assert.match(check.stderr, /\n1 problem in /);
  const untraced = join(examples, 'complete-untraced.yaml');
  writeFileSync(untraced, readFileSync(example, 'utf8').replace(/^tracing:\n(?: .*\n)*/m, ''));
  const without = await run(join(app, 'node_modules/.bin/candor'), ['check', untraced], app, { env });
  assert.equal(without.code, 0, without.stderr);
  assert.match(without.stdout, /complete-untraced\.yaml: ok/);
  // Left where npm put it, the plugin is refused, saying why and what to do.
  const installedUntraced = join(installed, 'docs/examples/complete-untraced.yaml');
  writeFileSync(installedUntraced, readFileSync(untraced, 'utf8'));
  const there = await run(join(app, 'node_modules/.bin/candor'), ['check', installedUntraced], app, { env });
  assert.equal(there.code, 78, there.stderr);
  assert.match(
    there.stderr,
    /plugins\.user-header\.module: .*a plugin installed as a package must be JavaScript/,
  );
});

interface Served {
  readonly port: number;
  /** SIGTERM, then the exit status. */
  drain(): Promise<number | null>;
  stderr(): string;
}

/**
 * `candor serve` of the installed package on `config`, with one worker, run in `cwd`, on `node`
 * (the installed command's own `#!/usr/bin/env node` when none is given), once it listens.
 * Killed after 45 s.
 */
async function serveInstalled(
  config: string,
  { node, cwd = app }: { node?: string; cwd?: string } = {},
): Promise<Served> {
  const bin = join(app, 'node_modules/.bin/candor');
  const [command, args] = node === undefined ? [bin, []] : [node, [join(installed, 'bin/candor.js')]];
  const child = spawn(command, [...args, 'serve', '--config', config, '--workers', '1'], {
    cwd,
    env: childEnv,
    timeout: 45_000,
    killSignal: 'SIGKILL',
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  try {
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
    return {
      port,
      drain: () => {
        child.kill('SIGTERM');
        return exited.finally(() => child.kill('SIGKILL'));
      },
      stderr: () => stderr,
    };
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
}

/** A config with one listener (`listen` its extra lines) and one route to `url`. */
function serveConfig(name: string, url: string, listen = ''): string {
  const config = join(work, `${name}.yaml`);
  writeFileSync(
    config,
    [
      `name: ${name}`,
      'listen:',
      '  - address: 127.0.0.1:0',
      ...(listen === '' ? [] : [`    ${listen}`]),
      'routes:',
      '  - match: { path: / }',
      '    upstream: app',
      'upstreams:',
      '  app:',
      '    targets:',
      `      - url: ${url}`,
      '',
    ].join('\n'),
  );
  return config;
}

test('candor serve answers a proxied request, then drains on SIGTERM and exits 0', async () => {
  const served = await serveInstalled(serveConfig('packed-edge', upstream.url));
  try {
    const answer = await get(`http://127.0.0.1:${served.port}/hello`);
    assert.equal(answer.status, 200);
    assert.equal(answer.body, 'upstream saw /hello\n');
    assert.match(answer.headers.via ?? '', /^1\.1 packed-edge$/);
    assert.match(upstream.via.at(-1) ?? '', /^1\.1 packed-edge$/);
  } finally {
    assert.equal(await served.drain(), 0, `exit status after SIGTERM; stderr:\n${served.stderr()}`);
  }
});

/** One HTTP/2 request with prior knowledge: the answer's status, Proxy-Status and body. */
async function h2cGet(port: number, path: string) {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  try {
    return await new Promise<{ status: number; proxyStatus: string | undefined; body: string }>(
      (resolve, reject) => {
        const stream = session.request({ ':path': path });
        let body = '';
        let head: http2.IncomingHttpHeaders = {};
        stream.setEncoding('utf8');
        stream.on('response', (fields) => {
          head = fields;
        });
        stream.on('data', (chunk) => {
          body += chunk;
        });
        stream.on('end', () =>
          resolve({
            status: Number(head[':status']),
            proxyStatus: head['proxy-status'] as string | undefined,
            body,
          }),
        );
        stream.on('error', reject);
        session.on('error', reject);
      },
    );
  } finally {
    session.close();
  }
}

// The package says it runs on Node >= 22.18 (package.json's engines, DESIGN.md). That Node is
// .ci/run's to install (MINIMUM_NODE); a machine without it skips. HTTP/2 is asked for: 22.18's
// node:http2 takes a response head only as an object, where Node 24's takes a raw list too.
test("on the oldest Node the package names, the installed gateway answers over HTTP/1.1 and HTTP/2, and says a failure's Proxy-Status", async (t) => {
  const engines: string = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')).engines.node;
  assert.equal(
    engines,
    `>=${MINIMUM_NODE.version.split('.').slice(0, 2).join('.')}`,
    'the Node it names is the one tried',
  );
  if (!existsSync(MINIMUM_NODE.path)) {
    t.skip(`no Node ${MINIMUM_NODE.version} at ${MINIMUM_NODE.path} (.ci/run installs it)`);
    return;
  }
  const version = await run(MINIMUM_NODE.path, ['--version'], app);
  assert.equal(version.stdout.trim(), `v${MINIMUM_NODE.version}`);
  const refused = await startRefusing();
  const good = await serveInstalled(serveConfig('oldest-node', upstream.url, 'http2: true'), {
    node: MINIMUM_NODE.path,
  });
  const bad = await serveInstalled(serveConfig('oldest-node-refused', refused.url, 'http2: true'), {
    node: MINIMUM_NODE.path,
  });
  try {
    const plain = await get(`http://127.0.0.1:${good.port}/one`);
    assert.equal(plain.status, 200);
    assert.equal(plain.body, 'upstream saw /one\n');
    assert.deepEqual(await h2cGet(good.port, '/two'), {
      status: 200,
      proxyStatus: undefined,
      body: 'upstream saw /two\n',
    });
    const failed = await h2cGet(bad.port, '/three');
    assert.equal(failed.status, 502);
    assert.match(
      failed.proxyStatus ?? '',
      /^oldest-node-refused; error=connection_refused; details="[^"]+"; next-hop="app"$/,
    );
  } finally {
    await refused.close();
    assert.equal(await good.drain(), 0, good.stderr());
    assert.equal(await bad.drain(), 0, bad.stderr());
  }
});

// The config and its plugins in a folder of their own, outside the folder candor is installed in
// (as beside a global install, or an image's /usr/lib/node_modules): a TypeScript plugin beside
// the config (Node strips its types: it is not under node_modules), a package beside it that only
// an import resolves, and one not installed, whose problem names no file of the gateway's.
test("the installed gateway runs plugins from the config's own folder: TypeScript beside it, an ES-module-only package beside it; a missing one is named as written", {
  timeout: 60_000,
}, async () => {
  const site = join(work, 'site');
  mkdirSync(join(site, 'plugins'), { recursive: true });
  writeFileSync(
    join(site, 'plugins/tag.ts'),
    `import type { Plugin } from 'candor';
const tag: Plugin<{ header: string }> = (options) => ({
  onRequest(request) {
    request.headers.set(options.header, 'typescript');
  },
});
export default tag;
`,
  );
  const pkg = join(site, 'node_modules/@site/stamp');
  mkdirSync(pkg, { recursive: true });
  writeFileSync(
    join(pkg, 'package.json'),
    JSON.stringify({ name: '@site/stamp', type: 'module', exports: { '.': { import: './stamp.js' } } }),
  );
  writeFileSync(
    join(pkg, 'stamp.js'),
    "export default () => ({ onResponse(response) { response.headers.set('x-stamp', 'package'); } });\n",
  );
  const config = (plugins: string) =>
    [
      'name: plugin-edge',
      'listen:',
      '  - address: 127.0.0.1:0',
      'plugins:',
      plugins,
      'routes:',
      '  - match: { path: / }',
      '    upstream: app',
      '    plugins: [tag, stamp]',
      'upstreams:',
      '  app:',
      '    targets:',
      `      - url: ${upstream.url}`,
      '',
    ].join('\n');
  const good = join(site, 'candor.yaml');
  writeFileSync(
    good,
    config(
      "  tag: { module: ./plugins/tag.ts, options: { header: x-tag } }\n  stamp: { module: '@site/stamp' }",
    ),
  );
  const missing = join(site, 'missing.yaml');
  writeFileSync(
    missing,
    config('  tag: { module: ./plugins/tag.ts }\n  stamp: { module: candor-plugin-nowhere }'),
  );
  const refused = await candor(['check', missing]);
  assert.equal(refused.code, 78, refused.stderr);
  assert.match(
    refused.stderr,
    /missing\.yaml:\d+:\d+ +plugins\.stamp\.module: cannot load candor-plugin-nowhere: Cannot find package 'candor-plugin-nowhere'\n/,
  );
  const checked = await candor(['check', good]);
  assert.equal(checked.code, 0, checked.stderr);

  const served = await serveInstalled(good, { cwd: site });
  try {
    const answer = await get(`http://127.0.0.1:${served.port}/plugged`);
    assert.equal(answer.status, 200, answer.body);
    assert.equal(answer.body, 'upstream saw /plugged\n');
    assert.equal(answer.headers['x-stamp'], 'package');
    assert.equal(upstream.tags.at(-1), 'typescript');
  } finally {
    assert.equal(await served.drain(), 0, `exit status after SIGTERM; stderr:\n${served.stderr()}`);
  }
});

test('tracing is an optional peer: the install has no OpenTelemetry package, and the command and library ran without it', async (t) => {
  const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'));
  const sdk = Object.keys(manifest.peerDependencies ?? {}).filter((name) =>
    name.startsWith('@opentelemetry/'),
  );
  assert.ok(sdk.length > 0, 'the OpenTelemetry SDK is a peer dependency');
  for (const name of sdk) {
    assert.equal(manifest.peerDependenciesMeta?.[name]?.optional, true, `${name} is optional`);
    assert.equal(manifest.dependencies?.[name], undefined, `${name} is no dependency`);
  }
  // @opentelemetry/api alone, a dependency of prom-client's (its exemplars, which Candor does not load).
  assert.deepEqual(
    readdirSync(join(app, 'node_modules/@opentelemetry')),
    ['api'],
    'no more of @opentelemetry/ installed',
  );
  const du = await run('du', ['-sk', join(app, 'node_modules')], app);
  t.diagnostic(
    `installed without tracing: ${Math.round(Number(du.stdout.split('\t')[0]) / 1024)} MiB of node_modules`,
  );
});

test('a config with tracing where the SDK is not installed: check and serve refuse it (exit 78), naming the packages and the npm install that adds them', async () => {
  const config = join(work, 'traced.yaml');
  writeFileSync(
    config,
    [
      'listen:',
      '  - address: 127.0.0.1:0',
      'routes:',
      '  - upstream: app',
      'upstreams:',
      '  app:',
      '    targets:',
      `      - url: ${upstream.url}`,
      'tracing:',
      '  otlp_endpoint: http://127.0.0.1:4318/v1/traces',
      '',
    ].join('\n'),
  );
  const sdk = Object.keys(JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')).peerDependencies);
  for (const args of [
    ['check', config],
    ['serve', '--config', config, '--workers', '1'],
  ]) {
    const refused = await candor(args);
    assert.equal(refused.code, 78, `candor ${args[0]}: ${refused.stdout}${refused.stderr}`);
    assert.match(
      refused.stderr,
      /traced\.yaml:9:1 +tracing: tracing needs the OpenTelemetry SDK, an optional dependency of candor, and @opentelemetry\/core, @opentelemetry\/exporter-trace-otlp-http, /,
    );
    assert.match(refused.stderr, /install them beside candor \(npm install @opentelemetry\/api@"\^1\./);
    for (const name of sdk) assert.ok(refused.stderr.includes(name), `candor ${args[0]} names ${name}`);
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

// A CommonJS TypeScript project, tsc's `module: commonjs` (so `moduleResolution: node10`, which reads
// no `exports`) with `esModuleInterop` (pino's own declarations, which candor's import, need it):
// docs/client-and-app.md promises a CommonJS program the three entry points, and its types too.
const CJS_CONSUMER = `import { type Gateway, configFromObject, startGateway } from 'candor';
import { type AttemptReport, createFetch } from 'candor/client';
import { type ServeAppOptions, serveApp } from 'candor/app';

export const start = (url: string): Promise<Gateway> =>
  startGateway(configFromObject({ listen: [{ address: '127.0.0.1:0' }], routes: [{ upstream: 'app' }], upstreams: { app: { targets: [{ url }] } } }));
const seen: AttemptReport[] = [];
export const api = createFetch({ attempts: 2, onAttemptFailed: (report) => seen.push(report) });
export const options: ServeAppOptions = { port: 0 };
export const serve = serveApp;
// @ts-expect-error: attempts is a number
createFetch({ attempts: '3' });
`;

test('a CommonJS TypeScript project (module commonjs: node10 resolution) type-checks against candor, candor/client and candor/app', {
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
        esModuleInterop: true,
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
    `tsc (module commonjs) against the package's declarations:\n${tsc.stdout}${tsc.stderr}`,
  );
});

/** Resolves once `done` holds, checked every 50 ms (the test's own timeout bounds it). */
async function waitFor(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((resolve) => setTimeout(resolve, 50));
}

/** The README's example under `heading` ("Use it as a library", "candor/client", "candor/app"), checked as written. */
function readmeExample(heading = 'Use it as a library'): string {
  const section = docsSection(heading);
  const example = /```ts\n([\s\S]*?)```/.exec(section);
  assert.ok(example, `README "${heading}" has a ts example`);
  return example[1];
}

/** Where a ```ts block of the docs is (`docs/canary.md:388`), its text, and the modules it imports. */
interface TsBlock {
  readonly where: string;
  readonly text: string;
  readonly imports: readonly string[];
}

/** Every ```ts block of README.md and docs/*.md. */
function tsBlocks(): TsBlock[] {
  const pages = [
    'README.md',
    ...readdirSync(join(ROOT, 'docs'))
      .filter((name) => name.endsWith('.md'))
      .sort()
      .map((name) => `docs/${name}`),
  ];
  const blocks: TsBlock[] = [];
  for (const page of pages) {
    const lines = readFileSync(join(ROOT, page), 'utf8').split('\n');
    for (let index = 0; index < lines.length; index++) {
      if (lines[index] !== '```ts') continue;
      const end = lines.indexOf('```', index + 1);
      const text = lines.slice(index + 1, end).join('\n');
      const imports = [...text.matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]);
      blocks.push({ where: `${page}:${index + 1}`, text, imports });
      index = end;
    }
  }
  return blocks;
}

/**
 * The names a docs example uses as the reader's own, declared for it: `gateway`, the one the
 * example before it started; `db`, the app's database.
 */
const READERS_OWN: readonly [name: RegExp, declaration: string][] = [
  [/\bgateway\./, "import type { Gateway } from 'candor';\ndeclare const gateway: Gateway;"],
  [/\bdb\./, 'declare const db: { ping(): Promise<void>; end(): Promise<void> };'],
];

// A reader copies an example into a project of their own, `tsc --strict` on: answerFailure's
// handler `(req, res)` was an implicit any there, and canary.md's called startGateway unimported.
test('every ```ts example of the docs type-checks under --strict against the installed declarations', {
  timeout: 180_000,
}, async (t) => {
  const dir = join(app, 'docs-examples');
  mkdirSync(dir, { recursive: true });
  const ours = (module: string) => /^(candor(\/client|\/app)?|node:.*)$/.test(module);
  const files: string[] = [];
  for (const [index, block] of tsBlocks().entries()) {
    // Express, Fastify and Hono beside the kit: frameworks this install does not have.
    const others = block.imports.filter((module) => !ours(module));
    if (others.length > 0) {
      t.diagnostic(`${block.where}: not checked, it imports ${others.join(', ')}`);
      continue;
    }
    const own = READERS_OWN.filter(
      ([uses], at) => uses.test(block.text) && !(at === 0 && /const gateway\b/.test(block.text)),
    ).map(([, declaration]) => declaration);
    const file = `example-${index}.ts`;
    writeFileSync(join(dir, file), `// ${block.where}\n${[...own, block.text].join('\n')}\nexport {};\n`);
    files.push(file);
  }
  assert.ok(files.length >= 6, `found ${files.length} examples to check`);
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'es2024',
        module: 'nodenext',
        strict: true,
        noEmit: true,
        // The declarations themselves are the consumer test's (below): here, the examples only.
        skipLibCheck: true,
        typeRoots: [join(ROOT, 'node_modules/@types')],
        types: ['node'],
      },
      files,
    }),
  );
  const tsc = await run(process.execPath, [TSC, '-p', dir], dir, { timeout: 150_000 });
  assert.equal(tsc.code, 0, `tsc --strict on the docs' examples:\n${tsc.stdout}${tsc.stderr}`);
});

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
  // A bundled app (Vite, esbuild, webpack) resolves the same entry points by the same exports.
  writeFileSync(
    join(app, 'tsconfig.bundler.json'),
    JSON.stringify({
      extends: './tsconfig.json',
      compilerOptions: { module: 'esnext', moduleResolution: 'bundler' },
      files: ['consumer.ts', 'misuse.ts', 'client-consumer.ts', 'app-consumer.ts'],
    }),
  );
  // The two checks at once: each is one process on one core, most of the test's time.
  const [tsc, bundler] = await Promise.all([
    run(process.execPath, [TSC, '-p', app], app, { timeout: 150_000 }),
    run(process.execPath, [TSC, '-p', join(app, 'tsconfig.bundler.json')], app, { timeout: 150_000 }),
  ]);
  assert.equal(tsc.code, 0, `tsc on the consumer:\n${tsc.stdout}${tsc.stderr}`);
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
  // Not a port the system picked and let go: another test file's listen(0) may be given it.
  const refused = await startRefusing();
  const client = await run(process.execPath, ['client-consumer.ts'], app, {
    timeout: 30_000,
    env: { ...childEnv, UPSTREAM_URL: upstream.url, REFUSED_URL: refused.url },
  }).finally(() => refused.close());
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

  // CommonJS takes the same entry points (`module-sync`: Node's require of an ES module graph).
  writeFileSync(
    join(app, 'cjs-consumer.cjs'),
    `const candor = require('candor');
const client = require('candor/client');
const kit = require('candor/app');
console.log(JSON.stringify([typeof candor.startGateway, typeof client.createFetch, typeof kit.createApp]));
`,
  );
  const cjs = await run(process.execPath, ['cjs-consumer.cjs'], app, { timeout: 30_000 });
  assert.equal(cjs.code, 0, `the CommonJS consumer ran:\n${cjs.stderr}`);
  assert.deepEqual(JSON.parse(cjs.stdout), ['function', 'function', 'function']);
});
