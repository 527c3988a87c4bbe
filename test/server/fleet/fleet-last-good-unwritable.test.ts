/**
 * A revision applied whose last good copy cannot be written (the state folder full or damaged:
 * here `last-good.yaml` made a directory, which a rename cannot replace, root or not): the
 * gateway runs the revision, and must say so, and that the copy on disk is still the one before;
 * never "not applied: the running config stays" while it serves the new revision.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { EtcdClient } from '../../../src/upstream/config-source/etcd-client.ts';
import { type EtcdProcess, startEtcd } from '../../helpers/etcd-server.ts';
import {
  documentTo,
  FLEET_KEY,
  type FleetGateway,
  fleetBootstrap,
  NamedOrigins,
  serveGateway,
  sourceOf,
} from '../../helpers/fleet-gateways.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const dir = tempDir('candor-fleet-unwritable-');
let etcd: EtcdProcess;
let gateway: FleetGateway;
let client: EtcdClient;
const origins = new NamedOrigins();

before(async () => {
  etcd = await startEtcd();
  await origins.start(['one', 'two']);
  gateway = await fleetBootstrap(dir, 'gw-u', [etcd.endpoint]);
  client = new EtcdClient({ endpoints: [etcd.endpoint], timeoutMs: 2000 });
  await client.put(FLEET_KEY, documentTo(origins.url.one));
  await serveGateway(gateway);
});

after(async () => {
  await closeAll(gateway?.serve, origins.servers, etcd);
  rmSync(dir, { recursive: true, force: true });
});

test('a revision applied whose last good copy cannot be written is said applied, and the copy said not kept', async () => {
  const first = Number((await sourceOf(gateway)).revision);
  const yaml = join(gateway.state, 'last-good.yaml');
  rmSync(yaml);
  mkdirSync(yaml);
  const revision = await client.put(FLEET_KEY, documentTo(origins.url.two));
  const serve = gateway.serve;
  assert.ok(serve !== undefined);
  const about = () =>
    serve.lines.filter((l) => String(l.msg).includes(`revision ${revision} `)).map((l) => [l.level, l.msg]);
  for (const deadline = Date.now() + 20_000; about().length < 2 && Date.now() < deadline; )
    await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(about(), [
    [
      'error',
      `the last good config could not be kept: EISDIR: illegal operation on a directory, rename '${yaml}.${serve.child.pid}.tmp' -> '${yaml}'; revision ${revision} runs, but a start while etcd cannot be read does not start on it`,
    ],
    ['info', `config revision ${revision} applied`],
  ]);
  const answer = await request(`http://127.0.0.1:${serve.port}`, { path: '/' });
  assert.equal(answer.body.toString(), 'two');
  assert.equal((await sourceOf(gateway)).revision, revision);
  const records = await client.range(`${FLEET_KEY}/gateways/gw-u`);
  assert.equal(
    JSON.parse(records.kvs[0].value).revision,
    revision,
    'the fleet record names the revision running',
  );
  assert.equal(JSON.parse(readFileSync(join(gateway.state, 'last-good.json'), 'utf8')).revision, first);
});

test("a gateway started on etcd's revision whose last good copy cannot be written follows etcd all the same, and says the copy was not kept", async () => {
  const started = await fleetBootstrap(dir, 'gw-s', [etcd.endpoint]);
  const yaml = join(started.state, 'last-good.yaml');
  mkdirSync(yaml);
  const running = (await client.range(FLEET_KEY)).kvs[0].modRevision;
  const serve = await serveGateway(started);
  try {
    // It runs etcd's revision, and follows the key: /status says so, and its record is in the fleet.
    const source = await sourceOf(started);
    assert.equal(source.revision, running);
    assert.equal(source.summary, `etcd reachable, running revision ${running}`);
    const notKept = () =>
      serve.lines.filter((l) => String(l.msg).startsWith('the last good config could not be kept'));
    assert.deepEqual(
      notKept().map((l) => [l.level, l.msg]),
      [
        [
          'error',
          `the last good config could not be kept: EISDIR: illegal operation on a directory, rename '${yaml}.${serve.child.pid}.tmp' -> '${yaml}'; revision ${running} runs, but a start while etcd cannot be read does not start on it`,
        ],
      ],
    );
    const revision = await client.put(FLEET_KEY, documentTo(origins.url.two));
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
      if ((await sourceOf(started)).revision === revision) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal((await sourceOf(started)).revision, revision);
    // Its record under its lease names it too (written once the apply is done: read until it does, 20 s at most).
    const recorded = async () =>
      JSON.parse((await client.range(`${FLEET_KEY}/gateways/gw-s`)).kvs[0]?.value ?? '{}').revision;
    for (const deadline = Date.now() + 20_000; Date.now() < deadline && (await recorded()) !== revision; )
      await new Promise((r) => setTimeout(r, 50));
    assert.equal(await recorded(), revision, 'its fleet record names the revision');
  } finally {
    await serve.stop();
  }
});
