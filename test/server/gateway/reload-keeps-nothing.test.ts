/**
 * Reloads, one after another, of a config with a plugin: once a replaced config's requests have
 * ended and its plugin instances are closed, nothing holds that config's runtime (its routes'
 * stages, admission, breakers, logger) or its instances. Each reload's new instances held a
 * getter of the runtime whose scope was the whole reload's, the replaced instances included, so
 * every config a worker ever ran stayed in its heap: a real `candor serve` grew 10 MB every 200
 * reloads, for good. Counted by WeakRefs to each instance after a full collection, never timed.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parseConfig } from '../../../src/core/config/load.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Each instance the plugin made (its hooks object, weakly) and whether its close() ran. */
interface Made {
  readonly hooks: WeakRef<object>;
  closed: boolean;
}
const made = (): Made[] => (globalThis as { candorReloadMade?: Made[] }).candorReloadMade ?? [];

const PLUGIN = `export default () => {
  const entry = { closed: false };
  const hooks = {
    onResponse(response) { response.headers.set('x-made', 'yes'); },
    close() { entry.closed = true; },
  };
  entry.hooks = new WeakRef(hooks);
  (globalThis.candorReloadMade ??= []).push(entry);
  return hooks;
};
`;

const RELOADS = 40;
let dir: string;
let app: http.Server;
const open: TestGateway[] = [];

before(async () => {
  dir = tempDir('candor-reload-keeps-nothing-');
  writeFileSync(join(dir, 'made.mjs'), PLUGIN);
  app = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
});

after(async () => {
  await closeAll(app, open);
  rmSync(dir, { recursive: true, force: true });
});

const yaml = (version: number) => `plugins:
  made: { module: ${join(dir, 'made.mjs')}, options: { version: ${version} } }
routes:
  - { name: r, match: { path: / }, upstream: app, plugins: [made] }
upstreams:
  app: { targets: [{ url: "http://127.0.0.1:${(app.address() as AddressInfo).port}" }] }
`;

/** How many instances are still reachable, after full collections (in jobs that deref'd none). */
async function reachable(): Promise<number> {
  const count = () => made().filter((m) => m.hooks.deref() !== undefined).length;
  let now = count();
  for (let i = 0; i < 20 && now > 1; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
    now = count();
  }
  return now;
}

test(`${RELOADS} reloads of a config with a plugin: the replaced configs' instances are let go`, async () => {
  const g = await startTestGateway(yaml(0));
  open.push(g);
  const first = made().length - 1;
  for (let i = 1; i <= RELOADS; i++) {
    await g.gateway.reload(parseConfig(`listen: [{ address: 127.0.0.1:0 }]\n${yaml(i)}`, '<test>', {}));
    const res = await request(g.url, { path: '/' });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['x-made'], 'yes');
  }
  assert.equal(made().length - first, RELOADS + 1);
  // Every replaced instance was closed (no request of its config was in flight): none is needed.
  await waitUntil('the replaced instances closed', () =>
    made()
      .slice(first, -1)
      .every((m) => m.closed),
  );
  assert.equal(made().at(-1)?.closed, false);
  // The running config's instance alone.
  assert.equal(await reachable(), 1, `instances still reachable of ${RELOADS + 1} made`);
});

test(`${RELOADS} reloads that keep an upstream: the replaced runtimes and upstreams are let go`, async () => {
  const plain = `routes:
  - { name: r, match: { path: / }, upstream: app }
upstreams:
  app: { targets: [{ url: "http://127.0.0.1:${(app.address() as AddressInfo).port}" }] }
`;
  const g = await startTestGateway(plain);
  open.push(g);
  const runtimes: WeakRef<object>[] = [];
  const upstreams: WeakRef<object>[] = [];
  const note = () => {
    const runtime = g.gateway.runtime();
    runtimes.push(new WeakRef(runtime));
    upstreams.push(new WeakRef(runtime.upstreams.get('app') as object));
  };
  note();
  for (let i = 1; i <= RELOADS; i++) {
    // Each reload changes the route (a header), so that each is a new runtime of the same upstream.
    const text = `listen: [{ address: 127.0.0.1:0 }]\n${plain.replace('upstream: app }', `upstream: app, response_headers: { set: { X-V: "${i}" } } }`)}`;
    await g.gateway.reload(parseConfig(text, '<test>', {}));
    const res = await request(g.url, { path: '/' });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['x-v'], String(i));
    note();
  }
  const live = (refs: WeakRef<object>[]) => refs.filter((r) => r.deref() !== undefined).length;
  let kept = { runtimes: live(runtimes), upstreams: live(upstreams) };
  for (let i = 0; i < 20 && (kept.runtimes > 1 || kept.upstreams > 1); i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
    kept = { runtimes: live(runtimes), upstreams: live(upstreams) };
  }
  // The running config's runtime and upstream alone.
  assert.deepEqual(kept, { runtimes: 1, upstreams: 1 }, `reachable of ${RELOADS + 1} made`);
});
