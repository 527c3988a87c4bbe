/**
 * The commands that ask a running gateway, given a fleet gateway's bootstrap file (what `serve`
 * was given, what the docs have operators keep): `purge` and `diagnose` read the config that
 * gateway composed and runs (its admin API, its upstreams); `reload` says the fleet's config is
 * pushed, naming the file it runs, and sends nothing (exit 64). None refuses the bootstrap as a
 * broken config (exit 78), as they did.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { gatewaysPrefix } from '../../../src/server/fleet/fleet-keys.ts';
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
import { closeAll } from '../../helpers/keep.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const dir = tempDir('candor-fleet-commands-');
let etcd: EtcdProcess;
let gateway: FleetGateway;
const origins = new NamedOrigins();

before(async () => {
  etcd = await startEtcd();
  await origins.start(['one']);
  gateway = await fleetBootstrap(dir, 'edge-commands', [etcd.endpoint]);
  const file = join(dir, 'one.yaml');
  writeFileSync(file, documentTo(origins.url.one));
  const pushed = await candor(['config', 'push', file, '--config', gateway.bootstrap]);
  assert.equal(pushed.code, 0, pushed.stderr);
  await serveGateway(gateway);
  await sourceOf(gateway);
});
after(async () => {
  await gateway?.serve?.stop();
  await closeAll(etcd, ...origins.servers);
  rmSync(dir, { recursive: true, force: true });
});

test('reload with the bootstrap file: exit 64, naming config push and the file the gateway runs; nothing sent', async () => {
  const run = await candor(['reload', '--config', gateway.bootstrap]);
  assert.equal(run.code, 64, run.stderr);
  const running = join(gateway.state, 'config.yaml');
  assert.match(run.stderr, /is the bootstrap of a fleet's gateway/);
  assert.ok(run.stderr.includes(`candor config push DOCUMENT --config ${gateway.bootstrap}`), run.stderr);
  assert.ok(run.stderr.includes(`candor reload --config ${running}`), run.stderr);
  assert.doesNotMatch(run.stderr, /missing required field|unknown field/);
  // The file it names does reload.
  const again = await candor(['reload', '--config', running]);
  assert.equal(again.code, 0, again.stderr);
});

test('purge and diagnose with the bootstrap file read the config the gateway runs', async () => {
  const purged = await candor(['purge', '--config', gateway.bootstrap]);
  assert.equal(purged.code, 0, purged.stderr);
  assert.equal(purged.stdout, 'purged 0 stored answer(s) from every route\n');
  const diagnosed = await candor(['diagnose', 'app', '--config', gateway.bootstrap]);
  assert.doesNotMatch(diagnosed.stderr, /missing required field|unknown field/);
  assert.equal(diagnosed.code, 0, diagnosed.stdout + diagnosed.stderr);
});

test("fleet status and config history print what etcd holds with its control characters escaped: a record's text never drives the terminal", async () => {
  const client = new EtcdClient({ endpoints: [etcd.endpoint] });
  // Anyone with the fleet's role may write under the prefix: a gateway's record, a push's author.
  const title = '\x1b]0;owned\x07';
  await client.put(
    `${gatewaysPrefix(FLEET_KEY)}evil`,
    JSON.stringify({
      name: `evil${title}`,
      address: '127.0.0.1:1',
      version: '\u202e0.2.0',
      pid: 1,
      revision: 1,
      hash: 'sha256:0',
      since: '2026-11-28T00:00:00.000Z',
    }),
  );
  const file = join(dir, 'again.yaml');
  writeFileSync(file, `${documentTo(origins.url.one)}# again\n`);
  const pushed = await candor([
    'config',
    'push',
    file,
    '--config',
    gateway.bootstrap,
    '--author',
    `mallory${title}`,
  ]);
  assert.equal(pushed.code, 0, pushed.stderr);
  const status = await candor(['fleet', 'status', '--config', gateway.bootstrap]);
  const history = await candor(['config', 'history', '--config', gateway.bootstrap]);
  for (const printed of [status.stdout, history.stdout])
    assert.doesNotMatch(printed, /[\x1b\x07\u202e]/, JSON.stringify(printed));
  assert.match(
    status.stdout,
    /^ {2}evil\\x1b\]0;owned\\x07 {2}127\.0\.0\.1:1 {2}candor \\u202e0\.2\.0 {2}BEHIND/m,
  );
  assert.match(history.stdout, / {2}mallory\\x1b\]0;owned\\x07 {2}/);
  // JSON stays JSON, the same text once parsed.
  const json = await candor(['fleet', 'status', '--json', '--config', gateway.bootstrap]);
  assert.doesNotMatch(json.stdout, /[\x1b\x07\u202e]/);
  const names = (JSON.parse(json.stdout) as { gateways: { name: string; version: string }[] }).gateways;
  assert.deepEqual(
    names.filter((g) => g.name.startsWith('evil')).map((g) => [g.name, g.version]),
    [[`evil${title}`, '\u202e0.2.0']],
  );
});

test('a rollback to a revision that fails validation: each problem told at that revision (the one taken up again), exit 78, nothing written', async () => {
  const client = new EtcdClient({ endpoints: [etcd.endpoint], timeoutMs: 2000 });
  // Written by hand (etcdctl put): every gateway refuses it; a good push follows.
  const bad = await client.put(
    FLEET_KEY,
    documentTo(origins.url.one).replace('  app:\n', '  app:\n    timeouts: { connect: fast }\n'),
  );
  const file = join(dir, 'again.yaml');
  writeFileSync(file, documentTo(origins.url.one).replace('name: all', 'name: again'));
  const pushed = await candor(['config', 'push', file, '--config', gateway.bootstrap]);
  assert.equal(pushed.code, 0, pushed.stderr);
  const now = (await client.range(FLEET_KEY)).kvs[0].modRevision;
  const rollback = await candor(['config', 'rollback', String(bad), '--config', gateway.bootstrap]);
  assert.equal(rollback.code, 78, rollback.stderr);
  assert.equal(
    rollback.stderr,
    `etcd:${FLEET_KEY}@${bad}:7:26  upstreams.app.timeouts.connect: expected a duration like 250ms, 5s or 1m, got "fast"\n1 problem in etcd:${FLEET_KEY}@${bad}\nnot pushed: the fleet keeps its config\n`,
  );
  assert.equal((await client.range(FLEET_KEY)).kvs[0].modRevision, now);
});

test('a rollback to a revision etcd has not reached is refused as one the key never had: exit 65, nothing written', async () => {
  const client = new EtcdClient({ endpoints: [etcd.endpoint], timeoutMs: 2000 });
  const { kvs, revision } = await client.range(FLEET_KEY);
  const ahead = revision + 1000;
  // etcd's bare words were printed ("etcdserver: mvcc: required revision is a future revision"),
  // exit 69, which says etcd could not be reached; a revision compacted away or never the key's
  // is exit 65 naming it.
  const rollback = await candor(['config', 'rollback', String(ahead), '--config', gateway.bootstrap]);
  assert.equal(rollback.code, 65, rollback.stderr);
  assert.match(
    rollback.stderr,
    new RegExp(
      `^candor: ${FLEET_KEY} never had revision ${ahead}: etcd is at revision \\d+ \\(see candor config history\\)\\n$`,
    ),
  );
  assert.equal((await client.range(FLEET_KEY)).kvs[0].modRevision, kvs[0].modRevision);
});

test('a push --if-revision past the revision the key is at is refused saying so, not that the key moved since: exit 69, nothing written', async () => {
  const client = new EtcdClient({ endpoints: [etcd.endpoint], timeoutMs: 2000 });
  const now = (await client.range(FLEET_KEY)).kvs[0].modRevision;
  const file = join(dir, 'ahead.yaml');
  writeFileSync(file, documentTo(origins.url.one).replace('name: all', 'name: ahead'));
  const pushed = await candor([
    'config',
    'push',
    file,
    '--config',
    gateway.bootstrap,
    '--if-revision',
    String(now + 1000),
  ]);
  assert.equal(pushed.code, 69, pushed.stderr);
  assert.doesNotMatch(pushed.stderr, /moved since/);
  assert.match(
    pushed.stderr,
    new RegExp(
      `^candor: not pushed: ${FLEET_KEY} is at revision ${now}, before revision ${now + 1000} \\(--if-revision\\), which it never had: revision ${now} was pushed by .* at .*; push over it \\(--if-revision ${now}\\)\\n$`,
    ),
  );
  assert.equal((await client.range(FLEET_KEY)).kvs[0].modRevision, now);
});
