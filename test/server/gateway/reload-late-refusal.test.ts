/**
 * A reload refused late: the new config's runtime cannot be built (an upstream's TLS CA, there
 * when the file was checked, gone when the runtime reads it; the new config's plugin factory, which
 * runs between the two, removes it). The reload is refused whole: the old config serves on as it
 * was (its plugins open, its status its own), the listener the refused config added is not left
 * open, and the plugins made for it are closed. Before, the gateway was left half swapped: the new
 * plugins in place (and never closed), the added listener open and unused, the old plugins kept
 * by nothing.
 */
import assert from 'node:assert/strict';
import { copyFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import { test } from 'node:test';
import bcrypt from 'bcryptjs';
import { parseConfig } from '../../../src/core/config/load.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { createLoggerOn } from '../../../src/observe/log/logger.ts';
import type { Plugin } from '../../../src/proxy/stages/plugin-api.ts';
import { startGateway } from '../../../src/server/gateway/gateway.ts';
import { request } from '../../helpers/http-client.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { freePort } from '../../helpers/wait.ts';

test('a reload whose runtime cannot be built is refused whole: the old config serves on, nothing of the new is left open', async () => {
  const dir = tempDir('candor-reload-late-');
  const up = await startEcho();
  const closed: string[] = [];
  // Each instance says which config made it, in its answers and when it is closed.
  const tagging =
    (tag: string): Plugin =>
    () => ({
      onResponse(response) {
        response.headers.set('x-made-for', tag);
      },
      close() {
        closed.push(tag);
      },
    });
  const takes: Plugin = (options) => {
    rmSync(String((options as { path: string }).path), { force: true });
    return tagging('new')(options, undefined as never);
  };
  const yaml = (plugin: string, upstream: string, weight = 1) => `name: edge-1
plugins:
  ${plugin}: { module: /nonexistent/${plugin}.mjs${plugin === 'takes' ? `, options: { path: ${join(dir, 'ca.pem')} }` : ''} }
routes:
  - { name: all, match: { path: / }, upstream: app, plugins: [${plugin}] }
upstreams:
  app:
    targets: [{ url: "${up.url}", weight: ${weight} }]
${upstream}`;
  const gw = await startTestGateway(yaml('old', ''), {}, '', {
    plugins: { old: tagging('old'), takes },
  });
  try {
    const hash = gw.gateway.configHash();
    assert.equal((await request(gw.url)).headers['x-made-for'], 'old');
    copyFileSync(testCertificates().caPath, join(dir, 'ca.pem'));
    const added = await freePort();
    const refused = parseConfig(
      `listen:\n  - address: 127.0.0.1:0\n  - address: 127.0.0.1:${added}\n${yaml(
        'takes',
        `  secure:\n    targets: [{ url: "${up.url}" }]\n    tls: { ca: ${join(dir, 'ca.pem')} }\n`,
        5,
      )}`,
      '<test>',
      {},
    );
    await assert.rejects(gw.gateway.reload(refused), /ENOENT.*ca\.pem/);

    const res = await request(gw.url);
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-made-for'], 'old', 'the old config’s plugin serves on');
    assert.equal(gw.gateway.configHash(), hash);
    assert.equal(gw.gateway.status().config_hash, hash);
    assert.deepEqual(Object.keys(gw.gateway.status().plugins ?? {}), ['plugin:old']);
    assert.equal(
      gw.gateway.runtime().upstreams.get('app')?.targets[0].config.weight,
      1,
      'the running upstream’s target keeps its weight',
    );
    assert.equal(gw.gateway.listeners.length, 1);
    await assert.rejects(
      request(`http://127.0.0.1:${added}`),
      /ECONNREFUSED/,
      'the refused config’s listener is not open',
    );
    assert.deepEqual(closed, ['new'], 'the plugin made for the refused config is closed, the old one is not');

    // The next reload swaps as any does: the old config's plugin closes then.
    await gw.gateway.reload(
      parseConfig(`listen:\n  - address: 127.0.0.1:0\n${yaml('old', '')}`, '<test>', {}),
    );
    assert.equal((await request(gw.url)).headers['x-made-for'], 'old');
    assert.deepEqual(closed, ['new', 'old']);
  } finally {
    await gw.close();
    await up.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a reload refused as its routes’ access is built leaves the upstreams it would drop serving as they were', async () => {
  const dir = tempDir('candor-reload-late-');
  const app = await startEcho();
  const gone = await startEcho();
  const users = join(dir, 'users');
  writeFileSync(users, `alice:${bcrypt.hashSync('s3cret', 4)}\n`);
  // The factory runs after the file was checked and before the runtime reads it.
  const takes: Plugin = (options) => {
    rmSync(String((options as { path: string }).path), { force: true });
    return {};
  };
  const routes = `name: edge-1
routes:
  - { name: gone, match: { path: /gone }, upstream: gone }
  - { name: all, match: { path: / }, upstream: app }
upstreams:
  app: { targets: [{ url: "${app.url}" }] }
  gone: { targets: [{ url: "${gone.url}" }] }
`;
  const gw = await startTestGateway(routes, {}, '', { plugins: { takes } });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = (path: string) =>
    new Promise<number>((resolve, reject) =>
      http
        .get(`${gw.url}${path}`, { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        })
        .on('error', reject),
    );
  try {
    assert.equal(await get('/gone'), 200);
    const refused = parseConfig(
      `listen:\n  - address: 127.0.0.1:0\nname: edge-1
plugins:
  takes: { module: /nonexistent/takes.mjs, options: { path: ${users} } }
routes:
  - name: all
    match: { path: / }
    upstream: app
    plugins: [takes]
    auth:
      basic: { users_file: ${users} }
upstreams:
  app: { targets: [{ url: "${app.url}" }] }
`,
      '<test>',
      {},
    );
    await assert.rejects(gw.gateway.reload(refused), /ENOENT.*users/);
    assert.equal(await get('/gone'), 200);
    assert.equal(await get('/gone'), 200);
    assert.equal(gone.connections, 1, 'the upstream the refused config drops keeps its pooled connection');
  } finally {
    agent.destroy();
    await gw.close();
    await app.close();
    await gone.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a reload whose kept TLS listener’s key cannot be read again is refused whole, not reported refused while it serves', async () => {
  const dir = tempDir('candor-reload-late-');
  const up = await startEcho();
  const certs = testCertificates();
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  copyFileSync(certs.localhost.certPath, cert);
  copyFileSync(certs.localhost.keyPath, key);
  const closed: string[] = [];
  const tagging =
    (tag: string): Plugin =>
    () => ({
      onResponse(response) {
        response.headers.set('x-made-for', tag);
      },
      close() {
        closed.push(tag);
      },
    });
  // The factory runs after the file was checked and before the listener reads it again.
  const takes: Plugin = (options) => {
    rmSync(String((options as { path: string }).path), { force: true });
    return tagging('new')(options, undefined as never);
  };
  const config = (plugin: string) =>
    parseConfig(
      `listen:\n  - address: 127.0.0.1:0\n    tls: { cert: ${cert}, key: ${key} }\nname: edge-1
plugins:
  ${plugin}: { module: /nonexistent/${plugin}.mjs, options: { path: ${key} } }
routes:
  - { name: all, match: { path: / }, upstream: app, plugins: [${plugin}] }
upstreams:
  app: { targets: [{ url: "${up.url}" }] }
`,
      '<test>',
      {},
    );
  const gateway = await startGateway(config('old'), {
    logger: createLoggerOn({ write: () => true }, 'silent', 'edge'),
    plugins: { old: tagging('old'), takes },
  });
  const get = () =>
    new Promise<http.IncomingMessage>((resolve, reject) =>
      https
        .get(
          { port: gateway.listeners[0].port(), host: '127.0.0.1', rejectUnauthorized: false, agent: false },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res));
          },
        )
        .on('error', reject),
    );
  try {
    const hash = gateway.configHash();
    assert.equal((await get()).headers['x-made-for'], 'old');
    await assert.rejects(gateway.reload(config('takes')), /ENOENT.*key\.pem/);
    assert.equal((await get()).headers['x-made-for'], 'old', 'the old config serves on');
    assert.equal(gateway.configHash(), hash);
    assert.deepEqual(closed, ['new']);
  } finally {
    await gateway.close();
    await up.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
