/**
 * Faults against a fleet of three `candor serve` gateways on a real etcd (Debian's etcd-server):
 * etcd killed while they watch and started again on its data (no revision missed, none applied
 * twice); a gateway frozen past its lease (out of the fleet, then back on the revision pushed
 * meanwhile); two rollouts at once (the second refused, the key untouched); etcd frozen during a
 * canary; a canary whose upstream fails more under the new config.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { EtcdClient } from '../../../src/upstream/config-source/etcd-client.ts';
import { type EtcdProcess, startEtcd } from '../../helpers/etcd-server.ts';
import {
  answersWith,
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
import { adminCall, childPids, signalEach } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const dir = tempDir('candor-fleet-faults-');
let etcd: EtcdProcess;
let gateways: FleetGateway[] = [];
/** Gateways a test starts beside the three, stopped by after() too. */
const others: FleetGateway[] = [];
const origins = new NamedOrigins();
const originUrl = origins.url;
/** Answers 503 to every other request: a real upstream that fails under the config routing to it. */
let flaky: http.Server;
let flakyUrl = '';

function writeDocument(file: string, text: string): string {
  const path = join(dir, file);
  writeFileSync(path, text);
  return path;
}

async function push(name: string, body: string, extra: string[] = []) {
  return candor([
    'config',
    'push',
    writeDocument(`${name}.yaml`, body),
    '--config',
    gateways[0].bootstrap,
    '--author',
    'alice',
    ...extra,
  ]);
}

async function fleetJson(): Promise<{
  latest: number;
  gateways: { name: string; revision: number; behind: boolean }[];
  canary: Record<string, unknown> | null;
}> {
  const status = await candor(['fleet', 'status', '--config', gateways[0].bootstrap, '--json']);
  return JSON.parse(status.stdout);
}

/** The fleet's status until `done` holds of it (`ms` at most): the last one read. */
async function fleetUntil(done: (fleet: Awaited<ReturnType<typeof fleetJson>>) => boolean, ms = 30_000) {
  const deadline = Date.now() + ms;
  let fleet = await fleetJson();
  while (!done(fleet) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    fleet = await fleetJson();
  }
  return fleet;
}

const appliedLines = (gateway: FleetGateway, revision: number) =>
  gateway.serve?.lines.filter((l) => String(l.msg).startsWith(`config revision ${revision} applied`))
    .length ?? 0;

function traffic(): { stop: () => Promise<Map<string, Map<string, number>>> } {
  let going = true;
  const seen = new Map<string, Map<string, number>>();
  const loops = gateways.map(async (gateway) => {
    const answers = new Map<string, number>();
    seen.set(gateway.name, answers);
    while (going) {
      const answer = await request(`http://127.0.0.1:${gateway.serve?.port}`, { path: '/' }).catch(
        (err: Error) => ({ status: 0, body: Buffer.from(err.message) }),
      );
      const what = answer.status === 200 ? answer.body.toString() : String(answer.status);
      answers.set(what, (answers.get(what) ?? 0) + 1);
      await new Promise((r) => setTimeout(r, 5));
    }
  });
  return {
    stop: async () => {
      going = false;
      await Promise.all(loops);
      return seen;
    },
  };
}

before(async () => {
  etcd = await startEtcd();
  await origins.start(['one', 'two', 'three', 'four', 'five', 'six']);
  let n = 0;
  flaky = http.createServer((_req, res) => {
    n++;
    res.statusCode = n % 2 === 0 ? 503 : 200;
    res.end('flaky');
  });
  await new Promise<void>((resolve) => flaky.listen(0, '127.0.0.1', resolve));
  flakyUrl = `http://127.0.0.1:${(flaky.address() as { port: number }).port}`;
  gateways = await Promise.all(
    ['gw-a', 'gw-b', 'gw-c'].map((name) => fleetBootstrap(dir, name, [etcd.endpoint])),
  );
  const first = await push('one', documentTo(originUrl.one));
  assert.equal(first.code, 0, first.stderr);
  await Promise.all(gateways.map(serveGateway));
  await fleetUntil((f) => f.gateways.length === 3);
  for (const gateway of gateways) await answersWith(gateway, 'one');
});

after(async () => {
  await closeAll(
    [...(gateways ?? []), ...others].map((g) => g.serve),
    origins.servers,
    [flaky],
    etcd,
  );
  rmSync(dir, { recursive: true, force: true });
});

test('etcd killed while the gateways watch and started on its data: the revision before the kill and the one after are each applied once', {
  timeout: 90_000,
}, async () => {
  const before = await push('two', documentTo(originUrl.two));
  assert.equal(before.code, 0, before.stderr);
  const r1 = Number(/revision (\d+)/.exec(before.stdout)?.[1]);
  await etcd.kill();
  for (const gateway of gateways) await answersWith(gateway, 'two');
  // The admin API's fleet view says etcd cannot be read, at once: no hang, no empty fleet.
  const view = await adminCall(gateways[0].adminPort, 'GET', '/fleet', { token: FLEET_TOKEN });
  assert.equal(view.status, 503, view.text);
  assert.match(String(view.body.detail), /^the fleet's records cannot be read: /);
  await etcd.start();
  const pushed = await push('three', documentTo(originUrl.three));
  assert.equal(pushed.code, 0, pushed.stderr);
  const r2 = Number(/revision (\d+)/.exec(pushed.stdout)?.[1]);
  for (const gateway of gateways) await answersWith(gateway, 'three');
  // Settled: no late replay of the revision before.
  await new Promise((r) => setTimeout(r, 1500));
  for (const gateway of gateways) {
    assert.equal(appliedLines(gateway, r1), 1, `${gateway.name} applied ${r1}`);
    assert.equal(appliedLines(gateway, r2), 1, `${gateway.name} applied ${r2}`);
    const source = await sourceOf(gateway);
    assert.equal(source.revision, r2);
    const { body } = await adminCall(gateway.adminPort, 'GET', '/events', { token: FLEET_TOKEN });
    const reloads = (body.events as { kind: string; revision?: number }[]).filter((e) => e.kind === 'reload');
    assert.deepEqual(
      reloads.map((e) => e.revision).filter((r) => r === r1 || r === r2),
      [r1, r2],
      `${gateway.name}'s timeline`,
    );
  }
});

test('a gateway frozen past its lease leaves the fleet, and thawed comes back on the revision pushed meanwhile, applied once', {
  timeout: 90_000,
}, async () => {
  const c = gateways[2];
  const pids = [c.serve?.child.pid as number, ...childPids(c.serve?.child.pid)];
  signalEach(pids, 'SIGSTOP');
  let r = 0;
  try {
    const pushed = await push('four', documentTo(originUrl.four));
    assert.equal(pushed.code, 0, pushed.stderr);
    r = Number(/revision (\d+)/.exec(pushed.stdout)?.[1]);
    const without = await fleetUntil((f) => f.gateways.length === 2, 25_000);
    assert.deepEqual(
      without.gateways.map((g) => g.name),
      ['gw-a', 'gw-b'],
    );
  } finally {
    signalEach(pids, 'SIGCONT');
  }
  await answersWith(c, 'four');
  const back = await fleetUntil((f) => f.gateways.length === 3, 20_000);
  assert.deepEqual(
    back.gateways.map((g) => [g.name, g.revision, g.behind]),
    [
      ['gw-a', r, false],
      ['gw-b', r, false],
      ['gw-c', r, false],
    ],
  );
  await new Promise((res) => setTimeout(res, 1500));
  assert.equal(appliedLines(c, r), 1);
  assert.match(String((await sourceOf(c)).summary), /^etcd reachable, running revision \d+$/);
});

test('two rollouts at once: a second canary, a plain push and a rollback are refused while the first runs; the key stays', {
  timeout: 90_000,
}, async () => {
  const client = new EtcdClient({ endpoints: [etcd.endpoint] });
  const keyBefore = (await client.range(FLEET_KEY)).kvs[0].modRevision;
  const load = traffic();
  const first = await push('five', documentTo(originUrl.five), [
    '--canary',
    '1',
    '--judge-window',
    '1s',
    '--judge-for',
    '6s',
    '--min-requests',
    '15',
    '--no-wait',
  ]);
  assert.equal(first.code, 0, first.stderr);
  const second = await push('six', documentTo(originUrl.six), ['--canary', '1', '--no-wait']);
  assert.equal(second.code, 69, `${second.stdout}${second.stderr}`);
  assert.match(second.stderr, /a config canary is under way/);
  const plain = await push('six-plain', documentTo(originUrl.six));
  assert.equal(plain.code, 69, `${plain.stdout}${plain.stderr}`);
  assert.match(plain.stderr, /a config canary is under way/);
  const rollback = await candor(['config', 'rollback', String(keyBefore), '--config', gateways[0].bootstrap]);
  assert.equal(rollback.code, 69, `${rollback.stdout}${rollback.stderr}`);
  assert.match(rollback.stderr, /a config canary is under way/);
  assert.equal((await client.range(FLEET_KEY)).kvs[0].modRevision, keyBefore);
  const done = await fleetUntil((f) => (f.canary as { phase: string } | null)?.phase !== 'running', 40_000);
  const seen = await load.stop();
  assert.equal((done.canary as { phase: string }).phase, 'promoted', JSON.stringify(done.canary));
  for (const gateway of gateways) await answersWith(gateway, 'five');
  for (const gateway of gateways)
    assert.ok(!seen.get(gateway.name)?.has('six'), `${gateway.name} never ran the refused one`);
});

test('etcd frozen for 20 s during a canary: the fleet ends on one revision, said, never split', {
  timeout: 120_000,
}, async () => {
  const load = traffic();
  const pushed = await push('six-canary', documentTo(originUrl.six), [
    '--canary',
    '1',
    '--judge-window',
    '1s',
    '--judge-for',
    '8s',
    '--min-requests',
    '15',
    '--no-wait',
  ]);
  assert.equal(pushed.code, 0, pushed.stderr);
  await answersWith(gateways[0], 'six');
  await etcd.freeze();
  await new Promise((r) => setTimeout(r, 20_000));
  etcd.thaw();
  const done = await fleetUntil((f) => (f.canary as { phase: string } | null)?.phase !== 'running', 60_000);
  await new Promise((r) => setTimeout(r, 3000));
  const seen = await load.stop();
  const canary = done.canary as { phase: string; verdict: string };
  assert.notEqual(canary.phase, 'running');
  // Served through the freeze: every answer one config's or the other's, none an error.
  for (const gateway of gateways)
    for (const body of seen.get(gateway.name)?.keys() ?? [])
      assert.ok(body === 'five' || body === 'six', `${gateway.name} answered ${body}`);
  // Rolled back (etcd's stall may end a canary gateway's lease): the rest never ran it.
  if (canary.phase === 'rolled_back')
    for (const gateway of gateways.slice(1))
      assert.ok(
        !seen.get(gateway.name)?.has('six'),
        `${gateway.name} ran a canary rolled back: ${canary.verdict}`,
      );
  const expected = canary.phase === 'promoted' ? 'six' : 'five';
  for (const gateway of gateways) await answersWith(gateway, expected);
  const fleet = await fleetUntil(
    (f) => f.gateways.length === 3 && f.gateways.every((g) => !g.behind),
    20_000,
  );
  assert.deepEqual(
    fleet.gateways.map((g) => [g.name, g.behind]),
    gateways.map((g) => [g.name, false]),
  );
});

test('a canary whose upstream fails more under the new config is rolled back on status_5xx; the rest never take it', {
  timeout: 90_000,
}, async () => {
  await fleetUntil(
    (f) => f.gateways.length === 3 && (f.canary as { phase: string } | null)?.phase !== 'running',
  );
  const running = await fleetJson();
  const load = traffic();
  const pushed = await push('flaky', documentTo(flakyUrl), [
    '--canary',
    '1',
    '--judge-window',
    '1s',
    '--judge-for',
    '4s',
    '--min-requests',
    '15',
  ]);
  const seen = await load.stop();
  assert.equal(pushed.code, 1, `${pushed.stdout}${pushed.stderr}`);
  assert.match(pushed.stdout, /ROLLED BACK at look [12]\/4: status_5xx /);
  for (const name of ['gw-b', 'gw-c'])
    assert.ok(!seen.get(name)?.has('flaky') && !seen.get(name)?.has('503'), `${name} never took the canary`);
  const after = await fleetJson();
  assert.equal(after.latest, running.latest);
});

test('a canary gateway frozen past its lease: the canary is rolled back as gone, and thawed, that gateway goes back to the revision the rest run', {
  timeout: 120_000,
}, async () => {
  await fleetUntil(
    (f) => f.gateways.length === 3 && (f.canary as { phase: string } | null)?.phase !== 'running',
  );
  const before = await fleetJson();
  const a = gateways[0];
  const was = (await request(`http://127.0.0.1:${a.serve?.port}`, { path: '/' })).body.toString();
  const pushed = await push('frozen-canary', documentTo(originUrl.one), [
    '--canary',
    '1',
    '--judge-window',
    '1s',
    '--judge-for',
    '60s',
    '--no-wait',
  ]);
  assert.equal(pushed.code, 0, pushed.stderr);
  await answersWith(a, 'one');
  const pids = [a.serve?.child.pid as number, ...childPids(a.serve?.child.pid)];
  signalEach(pids, 'SIGSTOP');
  let ended: Awaited<ReturnType<typeof fleetJson>>;
  try {
    ended = await fleetUntil((f) => (f.canary as { phase: string } | null)?.phase !== 'running', 40_000);
  } finally {
    signalEach(pids, 'SIGCONT');
  }
  const canary = ended.canary as { phase: string; verdict: string };
  assert.equal(canary.phase, 'rolled_back');
  assert.match(canary.verdict, /^canary gateway gw-a is gone/);
  await answersWith(a, was);
  const back = await fleetUntil((f) => f.gateways.length === 3 && f.gateways.every((g) => !g.behind), 20_000);
  assert.deepEqual(
    back.gateways.map((g) => [g.name, g.revision, g.behind]),
    gateways.map((g) => [g.name, before.latest, false]),
  );
  // Settled: it stays on the revision the rest run.
  await new Promise((r) => setTimeout(r, 3000));
  await answersWith(a, was);
});

test('etcd frozen while a gateway starts: with no last good config it exits 69, bounded; with one it starts on it and says etcd cannot be reached', {
  timeout: 120_000,
}, async () => {
  const fresh = await fleetBootstrap(dir, 'gw-fresh', [etcd.endpoint]);
  const kept = await fleetBootstrap(dir, 'gw-kept', [etcd.endpoint]);
  others.push(kept);
  for (const file of ['last-good.yaml', 'last-good.json'])
    writeFileSync(join(kept.state, file), readFileSync(join(gateways[1].state, file)));
  const want = (await request(`http://127.0.0.1:${gateways[1].serve?.port}`, { path: '/' })).body.toString();
  await etcd.freeze();
  try {
    const started = await candor(['serve', '--config', fresh.bootstrap]);
    assert.equal(started.code, 69, `${started.stdout}${started.stderr}`);
    assert.match(started.stderr, /etcd cannot be reached/);
    await serveGateway(kept);
    assert.match(
      kept.serve?.stderr() ?? '',
      /etcd cannot be reached \(.*\): starting on the last good config, revision \d+/,
    );
    await answersWith(kept, want);
  } finally {
    etcd.thaw();
  }
  // Thawed: it says etcd answers again and takes etcd's revision of the document it runs.
  await kept.serve?.waitForLines('config source reachable again', 1, 20_000);
  const latest = (await new EtcdClient({ endpoints: [etcd.endpoint] }).range(FLEET_KEY)).kvs[0].modRevision;
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
    if ((await sourceOf(kept)).revision === latest) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.match(
    String((await sourceOf(kept)).summary),
    new RegExp(`^etcd reachable, running revision ${latest}$`),
  );
  await kept.serve?.stop();
});
