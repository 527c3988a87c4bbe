/**
 * Plugins through the library (issue 57): startGateway takes plugin objects by name; a plugin is
 * made once per config load, a reload makes new instances and closes the old ones; a module that
 * does not load refuses the reload whole (the old plugins serve on); onResponse meets the
 * upstream's answers only (a gateway failure's status and Proxy-Status stay the gateway's), and
 * cannot remove the request id; an asynchronous onResponse holds the answer until it resolves, and
 * its rejection or overrun is a 500 naming it and onResponse; a hook that is no function refuses
 * the start.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError, loadConfigFile, parseConfig } from '../../../src/index.ts';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import type { Plugin } from '../../../src/proxy/stages/plugin-api.ts';
import { startDnsServer } from '../../helpers/dns-server.ts';
import { docsSection } from '../../helpers/docs-text.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

let made = 0;
let closed = 0;
const tagger: Plugin<{ tag: string }> = (options) => {
  made++;
  const instance = made;
  return {
    onRequest(request) {
      request.headers.set('x-tag', `${options.tag}-${instance}`);
    },
    onResponse(response, request) {
      response.headers.set('x-seen', request.headers.get('x-tag') ?? '');
      response.headers.delete('x-request-id');
      response.headers.set('proxy-status', 'forged');
      if (request.path === '/t/throw') throw new Error('a response hook bug');
      if (request.path.startsWith('/t/async')) return decideLater(response.headers, request.path);
    },
    close() {
      closed++;
    },
  };
};

/** An asynchronous onResponse: sets a field after a wait, rejects, or never settles (past the plugin's 300 ms). */
async function decideLater(headers: Headers, path: string): Promise<void> {
  if (path === '/t/async/hang') return new Promise(() => {});
  await new Promise((r) => setTimeout(r, 30));
  if (path === '/t/async/reject') throw new Error('a late response hook bug');
  headers.set('x-decided', 'later');
}

const yaml = (appUrl: string, tag: string, module = '/nonexistent/never-imported.ts') => `plugins:
  tagger: { module: ${module}, options: { tag: ${tag} }, timeout: 300ms }
routes:
  - { name: t, match: { path: /t }, upstream: app, plugins: [tagger] }
  - { name: down, match: { path: /down }, upstream: nothing, plugins: [tagger] }
upstreams:
  app: { targets: [{ url: ${appUrl} }] }
  nothing: { targets: [{ url: http://127.0.0.1:9 }] }
`;

describe('plugins given to startGateway', () => {
  let app: Fault;
  let gw: TestGateway;
  before(async () => {
    app = await startEcho();
    gw = await startTestGateway(yaml(app.url, 'one'), {}, '', { plugins: { tagger } });
  });
  after(async () => {
    await gw?.close();
    await app?.close();
  });

  test("a program's plugin object takes the place of its module: its edits go upstream and to the client", async () => {
    const res = await request(gw.url, { path: '/t/x' });
    assert.equal(res.status, 200);
    assert.equal(app.received[app.received.length - 1].headers['x-tag'], 'one-1');
    assert.equal(res.headers['x-seen'], 'one-1');
    assert.match(String(res.headers['x-request-id']), /^[0-9a-f-]{36}$/, 'the request id stays');
    assert.equal(res.headers['proxy-status'], undefined, 'no Proxy-Status of its own making');
    assert.equal(made, 1);
  });

  test("a gateway failure's answer is the gateway's: onResponse never meets it", async () => {
    const res = await request(gw.url, { path: '/down' });
    assert.equal(res.status, 502);
    assert.match(String(res.headers['proxy-status']), /error=connection_refused/);
    assert.equal(res.headers['x-seen'], undefined);
  });

  test('an asynchronous onResponse holds the answer until it resolves: its edits reach the client, the body whole after them', async () => {
    const res = await request(gw.url, { path: '/t/async?bytes=300000' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-decided'], 'later');
    assert.equal(res.headers['x-seen'], 'one-1');
    assert.match(String(res.headers['x-request-id']), /^[0-9a-f-]{36}$/, 'the request id stays');
    assert.equal(res.headers['proxy-status'], undefined);
    assert.equal(res.body.length, 300000);
    assert.equal(res.aborted, false);
    const small = await request(gw.url, { path: '/t/async' });
    assert.equal(small.headers['x-decided'], 'later', 'an answer whole before the hook resolved');
    assert.equal(JSON.parse(small.text).url, '/t/async');
  });

  test('an onResponse that rejects, or overruns its timeout, is a 500 naming the plugin and onResponse', async () => {
    const rejected = await request(gw.url, { path: '/t/async/reject' });
    assert.equal(rejected.status, 500);
    assert.match(String(rejected.headers['proxy-status']), /error=proxy_internal_error/);
    assert.match(String(rejected.headers['proxy-status']), /details="plugin:tagger threw in onResponse"/);
    assert.doesNotMatch(rejected.text, /late response hook bug/);
    assert.equal(rejected.headers['x-decided'], undefined);
    const hung = await request(gw.url, { path: '/t/async/hang' });
    assert.equal(hung.status, 500);
    assert.match(
      String(hung.headers['proxy-status']),
      /details="plugin:tagger overran its 300 ms in onResponse"/,
    );
    assert.equal((await request(gw.url, { path: '/t/ok' })).status, 200, 'the worker serves on');
  });

  test('onResponse throwing is a 500 naming the plugin and onResponse; the worker serves on', async () => {
    const res = await request(gw.url, { path: '/t/throw' });
    assert.equal(res.status, 500);
    assert.match(String(res.headers['proxy-status']), /details="plugin:tagger threw in onResponse"/);
    assert.doesNotMatch(res.text, /a response hook bug/);
    assert.equal((await request(gw.url, { path: '/t/ok' })).status, 200);
  });

  test("/status has each plugin's calls, failures and overruns", async () => {
    const plugins = gw.gateway.status().plugins ?? {};
    const tagger = plugins['plugin:tagger'];
    assert.ok(tagger !== undefined, 'the plugin is in the status');
    assert.ok(tagger.calls >= 5, `calls: ${tagger.calls}`);
    assert.equal(tagger.failures, 2, 'the rejection and the throw from onResponse');
    assert.equal(tagger.overruns, 1, 'the onResponse that never settled');
    assert.ok(tagger.seconds >= 0);
  });

  test('a reload makes new instances and closes the old ones', async () => {
    await gw.gateway.reload(
      parseConfig(`listen:\n  - address: 127.0.0.1:0\n${yaml(app.url, 'two')}`, '<test>', {}),
    );
    assert.equal(made, 2);
    const res = await request(gw.url, { path: '/t/y' });
    assert.equal(res.headers['x-seen'], 'two-2');
    for (let i = 0; i < 20 && closed < 1; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(closed, 1);
  });

  test('a reload whose plugin module does not load is refused whole; the running plugins serve on', async () => {
    const config = parseConfig(`listen:\n  - address: 127.0.0.1:0\n${yaml(app.url, 'three')}`, '<test>', {});
    await assert.rejects(
      // A gateway without the program's object imports the module the config names.
      async () => {
        const bad = {
          ...config,
          plugins: { other: { ...config.plugins?.tagger, module: '/nonexistent/x.ts' } },
        };
        return gw.gateway.reload(bad as typeof config);
      },
      (err: unknown) =>
        err instanceof ConfigError &&
        /plugins\.other\.module: cannot load \/nonexistent\/x\.ts/.test(err.message),
    );
    assert.equal((await request(gw.url, { path: '/t/z' })).headers['x-seen'], 'two-2');
  });
});

// The library's usual way in is a file (`loadConfigFile`, the README's first example): a plugin
// given as an object still has its required `module` there, which that loader imports as
// `candor check` does. plugins.md says so, and which loaders import none (parseConfig, as the
// given plugins above, and configFromObject).
test("a config file read by loadConfigFile imports a given plugin's module too: plugins.md says so, and which loaders read none", async () => {
  const file = join(tempDir('candor-given-plugin-'), 'candor.yaml');
  const text = `listen: [{ address: "127.0.0.1:0" }]\n${yaml('http://127.0.0.1:9', 'given', './given-by-the-program')}`;
  writeFileSync(file, text);
  await assert.rejects(
    loadConfigFile(file),
    (err: unknown) =>
      err instanceof ConfigError &&
      /plugins\.tagger\.module: cannot load .*given-by-the-program/.test(err.message),
  );
  assert.match(
    String(parseConfig(text, file).plugins?.tagger?.module),
    /given-by-the-program$/,
    'parseConfig reads no module',
  );
  const library = docsSection('The API').replace(/\s+/g, ' ');
  assert.match(library, /give plugins as objects.*`loadConfigFile` imports every module/);
  assert.match(library, /`parseConfig` or `configFromObject`, which import no module/);
});

test('hooks that are no functions refuse the start at plugins.NAME.module, naming the hook', async () => {
  const app = await startEcho();
  try {
    await assert.rejects(
      startTestGateway(yaml(app.url, 'four'), {}, '', {
        plugins: { tagger: () => ({ onResponse() {}, onRequest: 'nope' }) as never },
      }),
      (err: unknown) =>
        err instanceof ConfigError &&
        /plugins\.tagger\.module: the plugin's hook onRequest is "nope", not a function/.test(err.message),
    );
  } finally {
    await app.close();
  }
});

test('a factory that returns no object of hooks refuses the start at plugins.NAME.module, saying what it returned', async () => {
  const app = await startEcho();
  try {
    for (const [made, said] of [
      [5, '5'],
      [undefined, 'nothing'],
      ['hooks', '"hooks"'],
    ] as const)
      await assert.rejects(
        startTestGateway(yaml(app.url, 'four'), {}, '', { plugins: { tagger: (() => made) as never } }),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.message.includes(
            `plugins.tagger.module: the plugin's factory returned ${said}, not an object of hooks`,
          ),
      );
  } finally {
    await app.close();
  }
});

describe('plugins and DNS discovery', () => {
  test('a DNS answer rebuilds the routes on the same plugin instances: made once per config load', async () => {
    const app = await startEcho();
    const dns = await startDnsServer();
    dns.set('app.test', [{ type: 'A', address: '127.0.0.1', ttl: 1 }]);
    let instances = 0;
    const counted: Plugin = () => {
      instances++;
      const mine = instances;
      return {
        onRequest(request) {
          request.headers.set('x-instance', String(mine));
        },
      };
    };
    const port = new URL(app.url).port;
    const gw = await startTestGateway(
      `plugins:
  counted: { module: /nonexistent/never-imported.ts }
routes:
  - { match: { path: / }, upstream: app, plugins: [counted] }
upstreams:
  app:
    discovery: { dns: app.test, port: ${port}, resolvers: ["${dns.address}"], interval: 200ms }
`,
      {},
      '',
      { plugins: { counted } },
    );
    try {
      await waitUntil('the first answer', () => (gw.gateway.status().upstreams.app?.targets.length ?? 0) > 0);
      const before = gw.gateway.runtime();
      // A new answer (a second address): the runtime is rebuilt on it.
      dns.set('app.test', [
        { type: 'A', address: '127.0.0.1', ttl: 1 },
        { type: 'A', address: '127.0.0.2', ttl: 1 },
      ]);
      await waitUntil('the rebuild', () => gw.gateway.runtime() !== before, 5000);
      assert.equal(instances, 1);
      const res = await request(gw.url, { path: '/x' });
      assert.equal(res.status, 200);
      assert.equal(app.received[app.received.length - 1].headers['x-instance'], '1');
    } finally {
      await gw.close();
      await dns.close();
      await app.close();
    }
  });
});

describe("a plugin's own hop, through the library", () => {
  let app: Fault;
  let refusing: Fault;
  let gw: TestGateway;
  const hop: Plugin = (_options, context) => ({
    onRequest(request) {
      // Forgotten: no await, no catch. The program's process must not end of it.
      if (request.path === '/hop/forgot') context.fetch('down', '/audit', { request });
    },
    async onResponse(_response, request) {
      if (request.path === '/hop/after') await context.fetch('down', '/check', { request });
    },
  });
  before(async () => {
    app = await startEcho();
    refusing = await startRefusing();
    gw = await startTestGateway(
      `plugins:
  hop: { module: /nonexistent/never-imported.ts }
routes:
  - { match: { path: /hop }, upstream: app, plugins: [hop] }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
  down: { targets: [{ url: ${refusing.url} }] }
`,
      {},
      '',
      { plugins: { hop } },
    );
  });
  after(() => closeAll(gw, app, refusing));

  test('a fetch it forgot is logged once at warn, naming it and the hop; the request goes on', async () => {
    const res = await request(gw.url, { path: '/hop/forgot' });
    assert.equal(res.status, 200);
    const id = String(res.headers['x-request-id']);
    await waitUntil('the warning', () => gw.logs.some((l) => l.level === 'warn' && l.req_id === id));
    const said = gw.logs.filter((l) => l.req_id === id && l.msg !== 'request');
    assert.deepEqual(
      said.map((l) => [l.level, l.plugin, l.hop, l.msg]),
      [
        [
          'warn',
          'hop',
          'down',
          "a plugin's fetch failed and the plugin never took its failure (no await, no catch)",
        ],
      ],
    );
  });

  test("its hop failing in onResponse: that hop's 502, the line naming it beside the upstream that answered", async () => {
    const res = await request(gw.url, { path: '/hop/after' });
    assert.equal(res.status, 502);
    assert.match(String(res.headers['proxy-status']), /error=connection_refused; .*next-hop="down"$/);
    const line = await gw.logFor(String(res.headers['x-request-id']));
    assert.deepEqual(
      [line.plugin_hop, line.upstream, line.attempts, line.error],
      ['down', 'app', 1, 'connection_refused'],
    );
  });
});
