/**
 * A fleet's document that does not parse, or parses as no mapping (empty, a list, a string),
 * written under the key by hand or given to `candor config push`: told at the document (the key
 * and revision, or the file pushed), never at the bootstrap file's local section it is composed
 * with, which has nothing wrong; the gateway keeps what it runs.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { EtcdClient } from '../../../src/upstream/config-source/etcd-client.ts';
import { type EtcdProcess, startEtcd } from '../../helpers/etcd-server.ts';
import {
  candor,
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

const dir = tempDir('candor-fleet-shape-');
let etcd: EtcdProcess;
let gateway: FleetGateway;
let client: EtcdClient;
const origins = new NamedOrigins();
const MAPPING =
  "a fleet's document is a config without its local parts, a mapping of fields (routes:, upstreams:, …)";

before(async () => {
  etcd = await startEtcd();
  await origins.start(['one']);
  gateway = await fleetBootstrap(dir, 'gw-s', [etcd.endpoint]);
  client = new EtcdClient({ endpoints: [etcd.endpoint], timeoutMs: 2000 });
  await client.put(FLEET_KEY, documentTo(origins.url.one));
  await serveGateway(gateway);
});

after(async () => {
  await closeAll(gateway?.serve, origins.servers, etcd);
  rmSync(dir, { recursive: true, force: true });
});

/** The problems the gateway gave for `revision` (asked until it has refused it, for up to 15 s). */
async function refusalOf(revision: number): Promise<string[]> {
  let source = await sourceOf(gateway);
  const refusedRevision = () => (source.refused as { revision: number } | null)?.revision;
  for (const deadline = Date.now() + 15_000; refusedRevision() !== revision && Date.now() < deadline; ) {
    await new Promise((r) => setTimeout(r, 100));
    source = await sourceOf(gateway);
  }
  assert.equal(refusedRevision(), revision, JSON.stringify(source));
  return (source.refused as { problems: string[] }).problems;
}

test('a value under the key that does not parse or is no mapping is refused at the key, and the gateway serves on', async () => {
  const running = (await sourceOf(gateway)).revision;
  const cases: [string, (at: string) => string[]][] = [
    ['', (at) => [`${at}:1:1  ${MAPPING}; it is empty`]],
    ['- a\n- b\n', (at) => [`${at}:1:1  ${MAPPING}; it is a list`]],
    ['just a string', (at) => [`${at}:1:1  ${MAPPING}; it is a string`]],
    [
      'routes: [\n',
      (at) => [
        `${at}:1:9  routes: this [ has no closing ] before line 2: close it, or indent the lines it holds past its key`,
      ],
    ],
  ];
  for (const [value, expected] of cases) {
    const revision = await client.put(FLEET_KEY, value);
    assert.deepEqual(
      await refusalOf(revision),
      expected(`etcd:${FLEET_KEY}@${revision}`),
      JSON.stringify(value),
    );
  }
  const source = await sourceOf(gateway);
  assert.equal(source.revision, running);
  const answer = await request(`http://127.0.0.1:${gateway.serve?.port}`, { path: '/' });
  assert.equal(answer.body.toString(), 'one');
});

test('candor config push of a list: refused at the file pushed, exit 78, nothing written', async () => {
  const file = join(dir, 'list.yaml');
  writeFileSync(file, '- routes\n- upstreams\n');
  const before = (await client.range(FLEET_KEY)).kvs[0].modRevision;
  const pushed = await candor(['config', 'push', file, '--config', gateway.bootstrap]);
  assert.equal(pushed.code, 78);
  assert.equal(
    pushed.stderr,
    `${file}:1:1  ${MAPPING}; it is a list\n1 problem in ${file}\nnot pushed: the fleet keeps its config\n`,
  );
  assert.equal((await client.range(FLEET_KEY)).kvs[0].modRevision, before);
});
