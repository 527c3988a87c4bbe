/**
 * Three `candor serve` gateways taking their config from a real etcd (Debian's etcd-server) on
 * loopback: a push reaches all three; a bad revision is refused by each, at its position, while
 * it serves on; two pushes from one revision, one refused naming who and when; the history and
 * a rollback; the fleet's status; etcd stopped, the gateways serve on and say so, one restarted
 * starts on its last good config, and etcd back, the next push is taken; a dead one drops out
 * of the fleet when its lease ends.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { EtcdClient } from '../../../src/upstream/config-source/etcd-client.ts';
import { type EtcdProcess, startEtcd } from '../../helpers/etcd-server.ts';
import {
  candor,
  documentTo,
  FLEET_KEY,
  FLEET_TOKEN,
  type FleetGateway,
  fleetBootstrap,
  NamedOrigins,
  serveGateway,
  sourceOf,
} from '../../helpers/fleet-gateways.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { adminCall } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const dir = tempDir('candor-fleet-');
let etcd: EtcdProcess;
let gateways: FleetGateway[] = [];
const origins = new NamedOrigins();
const originUrl = origins.url;

/** The fleet's document: one route to the origin named. */
function writeDocument(file: string, text: string): string {
  const path = join(dir, file);
  writeFileSync(path, text);
  return path;
}

/** What a gateway's listener answers now. */
async function answerOf(gateway: FleetGateway): Promise<string> {
  const answer = await request(`http://127.0.0.1:${gateway.serve?.port}`, { path: '/' });
  return answer.body.toString();
}

async function everyGatewayAnswers(body: string, which = gateways): Promise<void> {
  for (const gateway of which) {
    let last = '';
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      last = await answerOf(gateway).catch((err: Error) => err.message);
      if (last === body) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(last, body, `${gateway.name} answers`);
  }
}

const bootstrap0 = () => gateways[0].bootstrap;

before(async () => {
  etcd = await startEtcd();
  await origins.start(['one', 'two', 'three', 'four']);
  gateways = await Promise.all(
    ['gw-a', 'gw-b', 'gw-c'].map((name) => fleetBootstrap(dir, name, [etcd.endpoint])),
  );
  const first = await candor([
    'config',
    'push',
    writeDocument('one.yaml', documentTo(originUrl.one)),
    '--config',
    bootstrap0(),
    '--author',
    'alice',
  ]);
  assert.equal(first.code, 0, first.stderr);
  await Promise.all(gateways.map(serveGateway));
});

/** Each gateway's serve process, as far as the setup got. */
const serves = () => gateways.map((g) => g.serve);

after(async () => {
  await closeAll(serves(), origins.servers, etcd);
  rmSync(dir, { recursive: true, force: true });
});

test('a push reaches all three gateways, each reports the revision, and the fleet status lists them on it', async () => {
  await everyGatewayAnswers('one');
  const pushed = await candor([
    'config',
    'push',
    writeDocument('two.yaml', documentTo(originUrl.two)),
    '--config',
    bootstrap0(),
    '--author',
    'bob',
  ]);
  assert.equal(pushed.code, 0, pushed.stderr);
  const revision = Number(/pushed as revision (\d+)/.exec(pushed.stdout)?.[1]);
  await everyGatewayAnswers('two');
  for (const gateway of gateways) {
    const source = await sourceOf(gateway);
    assert.equal(source.revision, revision);
    assert.equal(source.author, 'bob');
    assert.equal(source.summary, `etcd reachable, running revision ${revision}`);
  }
  // The deploy timeline of each says which revision and who, and so does explain's reading of it.
  for (const gateway of gateways) {
    const { body } = await adminCall(gateway.adminPort, 'GET', '/events', { token: FLEET_TOKEN });
    const reloads = (
      body.events as { kind: string; revision?: number; author?: string; via: string }[]
    ).filter((e) => e.kind === 'reload');
    assert.deepEqual(
      reloads.map((e) => [e.via, e.revision, e.author]),
      [['etcd', revision, 'bob']],
      gateway.name,
    );
  }
  // Any gateway's admin API shows the whole fleet.
  const fromAdmin = await adminCall(gateways[1].adminPort, 'GET', '/fleet', { token: FLEET_TOKEN });
  assert.equal(fromAdmin.status, 200);
  assert.deepEqual(
    (fromAdmin.body.gateways as { name: string }[]).map((g) => g.name),
    ['gw-a', 'gw-b', 'gw-c'],
  );
  const status = await candor(['fleet', 'status', '--config', bootstrap0(), '--json']);
  assert.equal(status.code, 0, status.stderr);
  const fleet = JSON.parse(status.stdout);
  assert.equal(fleet.latest, revision);
  assert.deepEqual(
    fleet.gateways.map((g: { name: string; revision: number; behind: boolean }) => [
      g.name,
      g.revision,
      g.behind,
    ]),
    [
      ['gw-a', revision, false],
      ['gw-b', revision, false],
      ['gw-c', revision, false],
    ],
  );
  // The last good config is kept in each state folder, with its revision.
  for (const gateway of gateways)
    assert.equal(JSON.parse(readFileSync(join(gateway.state, 'last-good.json'), 'utf8')).revision, revision);
});

test('a revision that fails validation is refused by every gateway at its position; they serve on, and the fleet shows them behind', async () => {
  const client = new EtcdClient({ endpoints: [etcd.endpoint] });
  // Written as etcdctl would, past the push's own check: each gateway must refuse it itself.
  const bad = documentTo(originUrl.three)
    .replace('upstreams:', 'upstreams:\n  # a timeout nobody can read\n')
    .replace('    targets:', '    timeouts: { connect: fast }\n    targets:');
  const revision = await client.put(FLEET_KEY, bad);
  for (const gateway of gateways) {
    type Refused = { revision: number; problems: string[] } | null;
    const refusedNow = async () => (await sourceOf(gateway)).refused as Refused;
    let refused = await refusedNow();
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && refused?.revision !== revision) {
      await new Promise((r) => setTimeout(r, 50));
      refused = await refusedNow();
    }
    assert.equal(refused?.revision, revision, gateway.name);
    assert.match(
      refused?.problems[0] ?? '',
      new RegExp(`^etcd:${FLEET_KEY}@${revision}:9:26  upstreams\\.app\\.timeouts\\.connect: `),
    );
  }
  await everyGatewayAnswers('two');
  const status = await candor(['fleet', 'status', '--config', bootstrap0()]);
  assert.equal(status.code, 1);
  assert.match(status.stdout, new RegExp(`gw-a .*BEHIND: runs revision \\d+ .*refused revision ${revision}`));
  // The push's own check refuses the same document, at the line of the file pushed.
  const file = writeDocument('bad.yaml', bad);
  const local = await candor(['config', 'push', file, '--config', bootstrap0()]);
  assert.equal(local.code, 78);
  assert.match(local.stderr, new RegExp(`^${file}:9:26  upstreams\\.app\\.timeouts\\.connect: `, 'm'));
  assert.match(local.stderr, /not pushed: the fleet keeps its config/);
});

test('two pushes from the same revision: the second is refused, naming who pushed and when', async () => {
  const client = new EtcdClient({ endpoints: [etcd.endpoint] });
  const read = (await client.range(FLEET_KEY)).kvs[0].modRevision;
  const file = writeDocument('three.yaml', documentTo(originUrl.three));
  const carol = await candor([
    'config',
    'push',
    file,
    '--config',
    bootstrap0(),
    '--author',
    'carol',
    '--if-revision',
    String(read),
  ]);
  assert.equal(carol.code, 0, carol.stderr);
  const carols = Number(/pushed as revision (\d+)/.exec(carol.stdout)?.[1]);
  const dave = await candor([
    'config',
    'push',
    file,
    '--config',
    bootstrap0(),
    '--author',
    'dave',
    '--if-revision',
    String(read),
  ]);
  assert.equal(dave.code, 69);
  assert.match(
    dave.stderr,
    new RegExp(
      `not pushed: ${FLEET_KEY} moved since revision ${read}: revision ${carols} was pushed by carol at \\d{4}-\\d\\d-\\d\\dT`,
    ),
  );
  await everyGatewayAnswers('three');
});

test('the history lists each revision with its author; a rollback pushes an old document again', async () => {
  const history = await candor(['config', 'history', '--config', bootstrap0(), '--json']);
  assert.equal(history.code, 0, history.stderr);
  const entries = JSON.parse(history.stdout).entries as { revision: number; author: string }[];
  assert.deepEqual(
    entries.map((e) => e.author),
    ['carol', 'unknown (no push record)', 'bob', 'alice'],
  );
  const bobs = entries[2].revision;
  const rollback = await candor([
    'config',
    'rollback',
    String(bobs),
    '--config',
    bootstrap0(),
    '--author',
    'erin',
  ]);
  assert.equal(rollback.code, 0, rollback.stderr);
  await everyGatewayAnswers('two');
  const after = JSON.parse(
    (await candor(['config', 'history', '--config', bootstrap0(), '--json', '--limit', '1'])).stdout,
  );
  assert.equal(after.entries[0].author, 'erin');
  assert.equal(after.entries[0].rollbackOf, bobs);
});

test('etcd stopped: the gateways serve on and say so; one restarted starts on its last good config; etcd back, the next push is taken', async () => {
  await etcd.kill();
  for (const gateway of gateways) {
    let summary = '';
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !summary.startsWith('source unreachable since')) {
      summary = String((await sourceOf(gateway)).summary);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(summary, /^source unreachable since \d{4}-\d\d-\d\dT[\d:.]+Z, running revision \d+$/);
  }
  await everyGatewayAnswers('two');
  // The metrics say it too: since when (Unix seconds, not 0) and the revision running.
  const running = (await sourceOf(gateways[0])).revision;
  const metrics = await request(`http://127.0.0.1:${gateways[0].adminPort}`, {
    path: '/metrics',
    headers: { authorization: `Bearer ${FLEET_TOKEN}` },
  });
  const text = metrics.body.toString();
  const since = Number(
    /^candor_config_source_unreachable_since_seconds\{key="\/candor\/config"\} (\S+)$/m.exec(text)?.[1],
  );
  assert.ok(since > Date.now() / 1000 - 60 && since <= Date.now() / 1000, text);
  assert.match(text, new RegExp(`^candor_config_source_revision\\{key="/candor/config"\\} ${running}$`, 'm'));
  // The revision refused by the first test is past: the pushes and the rollback after it ran.
  assert.match(text, /^candor_config_source_refused_revision\{key="\/candor\/config"\} 0$/m);
  const c = gateways[2];
  await c.serve?.stop();
  await serveGateway(c);
  assert.match(
    c.serve?.stderr() ?? '',
    /etcd cannot be reached \(.*\): starting on the last good config, revision \d+/,
  );
  assert.match(String((await sourceOf(c)).summary), /^source unreachable since .*, running revision \d+$/);
  await everyGatewayAnswers('two', [c]);
  await etcd.start();
  const pushed = await candor([
    'config',
    'push',
    writeDocument('four.yaml', documentTo(originUrl.four)),
    '--config',
    bootstrap0(),
    '--author',
    'frank',
  ]);
  assert.equal(pushed.code, 0, pushed.stderr);
  await everyGatewayAnswers('four');
  for (const gateway of gateways)
    assert.match(String((await sourceOf(gateway)).summary), /^etcd reachable, running revision \d+$/);
});

test('a gateway whose watch fell behind a compaction reads the key again and takes the latest revision', async () => {
  const a = gateways[0];
  const primary = a.serve?.child.pid as number;
  // Stopped, it holds a watch from the revision it runs while etcd restarts, two pushes land and
  // the store is compacted past them: on waking, its watch is gone and the revisions after the
  // one it ran no longer exist (a watch from there is canceled with compact_revision).
  process.kill(primary, 'SIGSTOP');
  try {
    await etcd.kill();
    await etcd.start();
    for (const name of ['one', 'three']) {
      const pushed = await candor([
        'config',
        'push',
        writeDocument(`${name}-again.yaml`, documentTo(originUrl[name])),
        '--config',
        gateways[1].bootstrap,
      ]);
      assert.equal(pushed.code, 0, pushed.stderr);
    }
    const client = new EtcdClient({ endpoints: [etcd.endpoint] });
    const { revision } = await client.range(FLEET_KEY);
    const compacted = await fetch(`${etcd.endpoint}/v3/kv/compaction`, {
      method: 'POST',
      body: JSON.stringify({ revision: String(revision) }),
    });
    assert.equal(compacted.status, 200);
  } finally {
    process.kill(primary, 'SIGCONT');
  }
  await everyGatewayAnswers('three');
  const latest = (await new EtcdClient({ endpoints: [etcd.endpoint] }).range(FLEET_KEY)).kvs[0].modRevision;
  assert.equal((await sourceOf(a)).revision, latest);
});

test('a gateway that dies drops out of the fleet status when its lease ends', async () => {
  const names = async () =>
    (
      JSON.parse((await candor(['fleet', 'status', '--config', bootstrap0(), '--json'])).stdout).gateways as {
        name: string;
      }[]
    ).map((g) => g.name);
  /** The fleet's status until it lists `expected` (15 s at most): the last one read. */
  const listed = async (expected: readonly string[]) => {
    const deadline = Date.now() + 15_000;
    let live = await names();
    while (Date.now() < deadline && live.join() !== expected.join()) {
      await new Promise((r) => setTimeout(r, 500));
      live = await names();
    }
    return live;
  };
  // All three first: after etcd came back (the test before), each writes its record again under
  // a new lease, on a loaded machine not always before this test begins.
  assert.deepEqual(await listed(['gw-a', 'gw-b', 'gw-c']), ['gw-a', 'gw-b', 'gw-c']);
  const c = gateways[2];
  const killed = c.serve?.child;
  // Gone from here on: after() must not wait for this one's exit (it came already).
  c.serve = undefined;
  const exited = new Promise((r) => killed?.once('exit', r));
  killed?.kill('SIGKILL');
  await exited;
  assert.deepEqual(await listed(['gw-a', 'gw-b']), ['gw-a', 'gw-b']);
});
