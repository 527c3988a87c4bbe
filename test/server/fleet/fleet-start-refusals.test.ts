/**
 * `candor serve` of a fleet's gateway that cannot start, with no last good config to fall back
 * on: etcd's revision refused, by the check before the start or by the workers (a plugin's
 * factory, which only a gateway calls), is told once (not once per worker) at the etcd key, the
 * revision, the document's own line and the field, never at the file the gateway composed from it
 * and its bootstrap's local section; etcd unreachable, it does not start, saying why (exit 69).
 * Against a real etcd (Debian's etcd-server).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
  serveGateway,
} from '../../helpers/fleet-gateways.ts';
import { closeAll } from '../../helpers/keep.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { waitUntil } from '../../helpers/wait.ts';

const dir = tempDir('candor-fleet-start-refusals-');
let etcd: EtcdProcess;
let gateway: FleetGateway;
let client: EtcdClient;

/** `candor serve` of the gateway with three workers, until it exits. */
const serve = () =>
  candor(['serve', '--workers', '3', '--config', gateway.bootstrap], {
    XDG_STATE_HOME: mkdtempSync(join(dir, 'xdg-')),
  });

before(async () => {
  etcd = await startEtcd();
  gateway = await fleetBootstrap(dir, 'gw-a', [etcd.endpoint]);
  client = new EtcdClient({ endpoints: [etcd.endpoint] });
  writeFileSync(join(dir, 'throws.mjs'), "export default () => {\n  throw new Error('no database');\n};\n");
});

after(async () => {
  await closeAll(gateway?.serve, etcd);
  rmSync(dir, { recursive: true, force: true });
});

test("a plugin's factory that throws at start: one line at the etcd key, revision, line and field, not one per worker", async () => {
  const revision = await client.put(
    FLEET_KEY,
    `plugins:\n  p:\n    module: ${join(dir, 'throws.mjs')}\n${documentTo('http://127.0.0.1:1').replace(
      '    upstream: app\n',
      '    upstream: app\n    plugins: [p]\n',
    )}`,
  );
  const { code, stderr } = await serve();
  assert.equal(code, 69, stderr);
  const said = stderr.split('\n').filter((line) => line.startsWith('candor: could not start: '));
  assert.equal(said.length, 1, stderr);
  assert.match(
    said[0],
    new RegExp(
      `^candor: could not start: etcd:${FLEET_KEY}@${revision}:3:5  plugins\\.p\\.module: the plugin's factory threw: no database`,
    ),
  );
  assert.doesNotMatch(stderr, /config\.yaml/);
  // Nor the primary's sends that met a worker already gone.
  assert.doesNotMatch(stderr, /EPIPE/);
});

test('a revision that fails validation at start, no last good config: its problem at the key and line, and why it does not start', async () => {
  const revision = await client.put(
    FLEET_KEY,
    documentTo('http://127.0.0.1:1').replace('    targets:', '    timeouts: { connect: fast }\n    targets:'),
  );
  const { code, stderr } = await serve();
  assert.equal(code, 78, stderr);
  const at = `etcd:${FLEET_KEY}@${revision}:7:26  upstreams.app.timeouts.connect: `;
  assert.equal(stderr.split('\n').filter((line) => line.startsWith(at)).length, 1, stderr);
  assert.match(
    stderr,
    new RegExp(
      `^candor: could not start: revision ${revision} under ${FLEET_KEY} is refused, and there is no last good config in ${gateway.state} to start on`,
      'm',
    ),
  );
  assert.doesNotMatch(stderr, /config\.yaml/);
});

test('etcd unreachable at start, no last good config: it does not start, exit 69, saying both', async () => {
  await etcd.kill();
  const { code, stderr } = await serve();
  assert.equal(code, 69, stderr);
  assert.match(
    stderr,
    new RegExp(
      `^candor: could not start: etcd cannot be reached \\(.*ECONNREFUSED.*\\), and there is no last good config in ${gateway.state} to start on\\n$`,
    ),
  );
});

test("a revision refused at start with a last good config: started on it, the refusal's problems said once on stderr and in the log's line", async () => {
  await etcd.start();
  await client.put(FLEET_KEY, documentTo('http://127.0.0.1:1'));
  // A first start keeps that revision as the last good config.
  await serveGateway(gateway);
  for (let tries = 0; tries < 100 && !existsSync(join(gateway.state, 'last-good.json')); tries++)
    await new Promise((r) => setTimeout(r, 50));
  await gateway.serve?.stop();
  const revision = await client.put(
    FLEET_KEY,
    documentTo('http://127.0.0.1:1').replace('    targets:', '    timeouts: { connect: fast }\n    targets:'),
  );
  const serve = await serveGateway(gateway);
  const at = `etcd:${FLEET_KEY}@${revision}:7:26  upstreams.app.timeouts.connect: `;
  assert.equal(
    serve
      .stderr()
      .split('\n')
      .filter((line) => line.startsWith(at)).length,
    1,
    serve.stderr(),
  );
  const note = `revision ${revision} under ${FLEET_KEY} is refused: starting on the last good config`;
  await waitUntil('the start on the last good config logged', () =>
    serve.lines.some((line) => String(line.msg).startsWith(note)),
  );
  const said = serve.lines.filter((line) => String(line.msg).startsWith(note));
  assert.equal(said.length, 1);
  assert.equal(said[0].level, 'warn');
  assert.match(String((said[0].problems as string[])?.[0]), new RegExp(`^${at}`));
  await serve.stop();
});
