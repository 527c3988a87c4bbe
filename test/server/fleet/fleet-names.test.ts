/**
 * Two gateways given one name (as two on one host without `local.name` are: the host's): the
 * first keeps its record in the fleet's list, the second says the name is held, by whom, and
 * stays out of the list while serving; the second stopping takes nothing of the first's; the
 * first stopping frees the name, and the second takes it. A config canary naming it runs on the
 * first alone: the second is in neither the list nor its canaries.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { gatewaysPrefix } from '../../../src/server/fleet/fleet-keys.ts';
import { EtcdClient } from '../../../src/upstream/config-source/etcd-client.ts';
import { type EtcdProcess, startEtcd } from '../../helpers/etcd-server.ts';
import {
  candor,
  documentTo,
  FLEET_KEY,
  fleetBootstrap,
  NamedOrigins,
  serveGateway,
} from '../../helpers/fleet-gateways.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort } from '../../helpers/wait.ts';

const dir = tempDir('candor-fleet-names-');
let etcd: EtcdProcess;
const origins = new NamedOrigins();

before(async () => {
  etcd = await startEtcd();
  await origins.start(['one', 'two']);
});
after(async () => {
  await closeAll(etcd, ...origins.servers);
  rmSync(dir, { recursive: true, force: true });
});

test("a second gateway of the same name keeps out of the list, takes nothing of the first's, and takes the name once it is free", async () => {
  const [a, b] = await Promise.all(
    ['a', 'b'].map((side) => {
      mkdirSync(join(dir, side));
      return fleetBootstrap(join(dir, side), 'edge-same', [etcd.endpoint]);
    }),
  );
  const file = join(dir, 'one.yaml');
  writeFileSync(file, documentTo(origins.url.one));
  assert.equal((await candor(['config', 'push', file, '--config', a.bootstrap])).code, 0);
  const client = new EtcdClient({ endpoints: [etcd.endpoint] });
  const holder = async () => {
    const kv = (await client.range(`${gatewaysPrefix(FLEET_KEY)}edge-same`)).kvs[0];
    return kv === undefined ? undefined : (JSON.parse(kv.value) as { pid: number }).pid;
  };
  const until = async (what: string, ok: () => Promise<boolean>, ms = 15_000) => {
    const deadline = Date.now() + ms;
    while (!(await ok())) {
      if (Date.now() > deadline) assert.fail(`not within ${ms} ms: ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  await serveGateway(a);
  const first = a.serve?.child.pid;
  await until('the first listed', async () => (await holder()) === first);
  await serveGateway(b);
  try {
    await b.serve?.waitForLines(
      'gateway name "edge-same" is held by another live gateway (' +
        `127.0.0.1:${a.serve?.port} on ${hostname()}, pid ${first}): this one serves on but stays out of the fleet's list and canaries until it is free; give each gateway its own local.name`,
      1,
      10_000,
    );
    assert.equal((await request(`http://127.0.0.1:${b.serve?.port}`, { path: '/' })).text, 'one');
    assert.equal(await holder(), first);
    // The second stops: the first's record stays.
    await b.serve?.stop();
    assert.equal(await holder(), first);
    // The second again, then the first stops: the name is free, and the second takes it.
    await serveGateway(b);
    const second = b.serve?.child.pid;
    await b.serve?.waitForLines(
      'gateway name "edge-same" is held by another live gateway (' +
        `127.0.0.1:${a.serve?.port} on ${hostname()}, pid ${first}): this one serves on but stays out of the fleet's list and canaries until it is free; give each gateway its own local.name`,
      1,
      10_000,
    );
    await a.serve?.stop();
    await until('the second listed', async () => (await holder()) === second);
    await b.serve?.waitForLines(
      'gateway name "edge-same" is free again: this gateway is in the fleet\'s list',
      1,
      10_000,
    );
  } finally {
    await b.serve?.stop();
    await a.serve?.stop();
  }
});

test("a record of the name with this gateway's address but another host's name is another gateway's: left as it is, until it is gone", async () => {
  mkdirSync(join(dir, 'here'));
  const here = await fleetBootstrap(join(dir, 'here'), 'edge-host', [etcd.endpoint]);
  // Both listen on one address, as two hosts given 0.0.0.0:8080 do.
  const port = await freePort();
  writeFileSync(
    here.bootstrap,
    readFileSync(here.bootstrap, 'utf8').replace('127.0.0.1:0', `127.0.0.1:${port}`),
  );
  const file = join(dir, 'host-one.yaml');
  writeFileSync(file, documentTo(origins.url.one));
  assert.equal((await candor(['config', 'push', file, '--config', here.bootstrap])).code, 0);
  const client = new EtcdClient({ endpoints: [etcd.endpoint] });
  const key = `${gatewaysPrefix(FLEET_KEY)}edge-host`;
  const lease = await client.grantLease(60);
  const theirs = {
    name: 'edge-host',
    address: `127.0.0.1:${port}`,
    host: 'another-host',
    version: '0.2.0',
    pid: 4242,
    revision: 1,
    hash: 'x',
    since: new Date().toISOString(),
  };
  await client.put(key, JSON.stringify(theirs), lease);
  const record = async () => {
    const kv = (await client.range(key)).kvs[0];
    return kv === undefined ? undefined : (JSON.parse(kv.value) as { pid: number; host?: string });
  };
  await serveGateway(here);
  try {
    assert.equal(here.serve?.port, port);
    await here.serve?.waitForLines(
      `gateway name "edge-host" is held by another live gateway (127.0.0.1:${port} on another-host, pid 4242): this one serves on but stays out of the fleet's list and canaries until it is free; give each gateway its own local.name`,
      1,
      10_000,
    );
    assert.deepEqual(await record(), theirs, 'not written over');
    // The other host's gateway leaves: the name is free, and this one takes it, naming its host.
    await client.revoke(lease);
    await here.serve?.waitForLines(
      'gateway name "edge-host" is free again: this gateway is in the fleet\'s list',
      1,
      10_000,
    );
    // Said as it is found free, written a moment after.
    const deadline = Date.now() + 10_000;
    while ((await record())?.pid !== here.serve?.child.pid) {
      assert.ok(Date.now() < deadline, 'its record written');
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal((await record())?.host, hostname());
  } finally {
    await here.serve?.stop();
  }
});

test('a config canary naming a name two gateways were given runs on the one that holds it, not on the other', async () => {
  const [held, other, rest] = await Promise.all(
    ['held', 'other', 'rest'].map((side) => {
      mkdirSync(join(dir, side));
      // The canary takes the first live gateway by name: edge-a.
      return fleetBootstrap(join(dir, side), side === 'rest' ? 'edge-z' : 'edge-a', [etcd.endpoint]);
    }),
  );
  const file = join(dir, 'canary-one.yaml');
  writeFileSync(file, documentTo(origins.url.one));
  assert.equal((await candor(['config', 'push', file, '--config', held.bootstrap])).code, 0);
  const client = new EtcdClient({ endpoints: [etcd.endpoint] });
  const listed = async () => (await client.range(gatewaysPrefix(FLEET_KEY), { prefix: true })).kvs.length;
  await serveGateway(held);
  await serveGateway(rest);
  try {
    const deadline = Date.now() + 15_000;
    while ((await listed()) < 2) {
      assert.ok(Date.now() < deadline, 'both names listed');
      await new Promise((r) => setTimeout(r, 100));
    }
    await serveGateway(other);
    await other.serve?.waitForLines(
      'gateway name "edge-a" is held by another live gateway (' +
        `127.0.0.1:${held.serve?.port} on ${hostname()}, pid ${held.serve?.child.pid}): this one serves on but stays out of the fleet's list and canaries until it is free; give each gateway its own local.name`,
      1,
      10_000,
    );
    const two = join(dir, 'canary-two.yaml');
    writeFileSync(two, documentTo(origins.url.two));
    const pushed = await candor([
      'config',
      'push',
      two,
      '--config',
      held.bootstrap,
      '--canary',
      '1',
      '--no-wait',
    ]);
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(
      pushed.stdout,
      /pushed as canary revision \d+ on edge-a; every other gateway keeps revision \d+/,
    );
    const body = async (gateway: typeof held) =>
      (await request(`http://127.0.0.1:${gateway.serve?.port}`, { path: '/' })).text;
    const ran = Date.now() + 15_000;
    while ((await body(held)) !== 'two') {
      assert.ok(Date.now() < ran, 'the holder runs the canary');
      await new Promise((r) => setTimeout(r, 100));
    }
    // A moment for the other to take it, were it going to (the holder took it within this).
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(await body(other), 'one', 'the gateway not holding the name runs no canary');
    assert.equal(await body(rest), 'one');
    assert.equal(
      other.serve?.lines.some((line) => /applied as a canary/.test(String(line.msg))),
      false,
    );
  } finally {
    await Promise.all([held.serve?.stop(), other.serve?.stop(), rest.serve?.stop()]);
  }
});
