/**
 * A config pushed as a canary (`candor config push --canary 1`) to three `candor serve`
 * gateways on a real etcd (Debian's etcd-server), under steady traffic to each: one whose route
 * points at a closed port is rolled back on its gateway within two judging windows, saying which
 * metric and figures, while the other two never take it; one adding a plugin whose onRequest
 * throws (on every other request) is rolled back on the gateway's own 500s (gateway_error),
 * which make no upstream attempt; a healthy one reaches all three; one whose gateway dies is
 * rolled back (the gateway gone counts as a failed canary). A canary of a document near etcd's
 * request bound is promoted, or rolled back, all the same: its verdict's record fits where its
 * push did.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { EtcdClient } from '../../../src/upstream/config-source/etcd-client.ts';
import { type EtcdProcess, startEtcd } from '../../helpers/etcd-server.ts';
import {
  answersWith,
  candor,
  documentTo,
  FLEET_KEY,
  type FleetGateway,
  fleetBootstrap,
  NamedOrigins,
  serveGateway,
} from '../../helpers/fleet-gateways.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort } from '../../helpers/wait.ts';

const dir = tempDir('candor-fleet-canary-');
let etcd: EtcdProcess;
let gateways: FleetGateway[] = [];
const origins = new NamedOrigins();
const originUrl = origins.url;
/** A port nothing listens on: a route to it is refused at every attempt. */
let closedPort = 0;

function writeDocument(file: string, text: string): string {
  const path = join(dir, file);
  writeFileSync(path, text);
  return path;
}

/** Windows of a second, judged for four: the defaults' minutes, made small. */
const JUDGING = ['--judge-window', '1s', '--judge-for', '4s', '--min-requests', '15'];

/**
 * Requests to every gateway, one after another on each, until stopped; what each answered
 * (its body, or its status when not 200), counted by gateway.
 */
function traffic(): { stop: () => Promise<Map<string, Map<string, number>>> } {
  let going = true;
  const seen = new Map<string, Map<string, number>>();
  const loops = gateways.map(async (gateway) => {
    if (gateway.serve === undefined) return;
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

async function fleetJson(): Promise<{
  latest: number;
  gateways: { name: string; revision: number; behind: boolean }[];
  canary: Record<string, unknown> | null;
}> {
  const status = await candor(['fleet', 'status', '--config', gateways[0].bootstrap, '--json']);
  return JSON.parse(status.stdout);
}

before(async () => {
  etcd = await startEtcd();
  await origins.start(['one', 'two']);
  closedPort = await freePort();
  gateways = await Promise.all(
    ['gw-a', 'gw-b', 'gw-c'].map((name) => fleetBootstrap(dir, name, [etcd.endpoint])),
  );
  const first = await candor([
    'config',
    'push',
    writeDocument('one.yaml', documentTo(originUrl.one)),
    '--config',
    gateways[0].bootstrap,
  ]);
  assert.equal(first.code, 0, first.stderr);
  await Promise.all(gateways.map(serveGateway));
  // Every gateway's record is written: the canary is chosen among the live ones.
  const deadline = Date.now() + 15_000;
  while ((await fleetJson()).gateways.length < 3 && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 100));
  for (const gateway of gateways) await answersWith(gateway, 'one');
});

/** Each gateway's serve process, as far as the setup got. */
const serves = () => gateways.map((g) => g.serve);

after(async () => {
  await closeAll(serves(), origins.servers, etcd);
  rmSync(dir, { recursive: true, force: true });
});

test('a canary whose route points at a closed port is rolled back on its gateway within two windows; the others never take it', async () => {
  const before = await fleetJson();
  const load = traffic();
  const pushed = await candor([
    'config',
    'push',
    writeDocument('broken.yaml', documentTo(`http://127.0.0.1:${closedPort}`)),
    '--config',
    gateways[0].bootstrap,
    '--canary',
    '1',
    ...JUDGING,
  ]);
  // gw-a, first by name, ran it: its answers turn to the closed port's 502 and back.
  await answersWith(gateways[0], 'one');
  const seen = await load.stop();
  assert.equal(pushed.code, 1, pushed.stderr);
  assert.match(
    pushed.stdout,
    /pushed as canary revision (\d+) on gw-a; every other gateway keeps revision \d+/,
  );
  // The one line: which metric (refused connections, or the 503s once the target is ejected), and both sides' figures.
  assert.match(
    pushed.stdout,
    /ROLLED BACK at look [12]\/4: (unreachable|gateway) \([^)]+\) \d+\/\d+ \(\d+\.\d\d%\) on the canary vs 0\/\d+ \(0\.00%\) on the rest \(p [<=] /,
  );
  assert.ok(
    (seen.get('gw-a')?.get('502') ?? 0) + (seen.get('gw-a')?.get('503') ?? 0) > 0,
    `gw-a answered ${JSON.stringify([...(seen.get('gw-a') ?? [])])}`,
  );
  for (const name of ['gw-b', 'gw-c'])
    assert.deepEqual([...(seen.get(name)?.keys() ?? [])], ['one'], `${name} never took the canary`);
  const after = await fleetJson();
  const canary = after.canary as {
    phase: string;
    gateways: string[];
    look: number;
    verdict: string;
    line: string;
  };
  assert.equal(canary.phase, 'rolled_back');
  assert.deepEqual(canary.gateways, ['gw-a']);
  assert.ok(canary.look <= 2, `rolled back at look ${canary.look}`);
  assert.match(canary.line, /ROLLED BACK at look [12]\/4: (unreachable|gateway) /);
  // The config key never moved: every gateway runs the revision the canary was pushed over.
  assert.equal(after.latest, before.latest);
  assert.deepEqual(
    after.gateways.map((g) => [g.name, g.revision, g.behind]),
    gateways.map((g) => [g.name, before.latest, false]),
  );
  // Each gateway's log says it in one line; gw-a's that it went back.
  const logged = (gateway: FleetGateway, pattern: RegExp) =>
    gateway.serve?.lines.some((line) => pattern.test(String(line.msg))) ?? false;
  for (const gateway of gateways)
    assert.ok(
      logged(gateway, /^config canary revision \d+ rolled back: (unreachable|gateway) /),
      gateway.name,
    );
  assert.ok(logged(gateways[0], /^config revision \d+ applied again: the canary rolled back$/));
  for (const gateway of gateways.slice(1)) assert.ok(!logged(gateway, /applied as a canary/), gateway.name);
});

test("a canary adding a plugin whose onRequest throws on every other request is rolled back on the gateway's own 500s, which make no upstream attempt", async () => {
  const before = await fleetJson();
  // Half its requests are the gateway's own 500 and never reach the upstream; the other half
  // are answered as before: counted by their attempts alone, the canary looked as good as the
  // rest and was promoted.
  const plugin = writeDocument(
    'throws.mjs',
    "let n = 0;\nexport default () => ({ onRequest() { if (++n % 2 === 0) throw new Error('bad config'); } });\n",
  );
  const document = `plugins:\n  throws: { module: ${plugin} }\n${documentTo(originUrl.one).replace(
    'upstream: app',
    'upstream: app\n    plugins: [throws]',
  )}`;
  // Its half of 200s says 'one' too: gw-a is back when it says so in its log, not when it answers.
  const back = `config revision ${before.latest} applied again: the canary rolled back`;
  const backs = gateways[0].serve?.lines.filter((line) => line.msg === back).length ?? 0;
  const load = traffic();
  const pushed = await candor([
    'config',
    'push',
    writeDocument('throws.yaml', document),
    '--config',
    gateways[0].bootstrap,
    '--canary',
    '1',
    ...JUDGING,
  ]);
  const seen = await load.stop();
  assert.ok(
    (seen.get('gw-a')?.get('500') ?? 0) > 0,
    `gw-a answered ${JSON.stringify([...(seen.get('gw-a') ?? [])])}`,
  );
  assert.equal(pushed.code, 1, `${pushed.stdout}${pushed.stderr}`);
  assert.match(
    pushed.stdout,
    /ROLLED BACK at look [12]\/4: gateway_error \(500: the gateway's own error, a plugin's throw or overrun\) \d+\/\d+ \(\d+\.\d\d%\) on the canary vs 0\/\d+ \(0\.00%\) on the rest \(p [<=] /,
  );
  for (const name of ['gw-b', 'gw-c'])
    assert.deepEqual([...(seen.get(name)?.keys() ?? [])], ['one'], `${name} never took the canary`);
  const after = await fleetJson();
  assert.equal((after.canary as { phase: string }).phase, 'rolled_back');
  assert.equal(after.latest, before.latest);
  await gateways[0].serve?.waitForLines(back, backs + 1, 15_000);
});

test('a healthy canary holds for the time named and then every gateway takes it', async () => {
  const load = traffic();
  const pushed = await candor([
    'config',
    'push',
    writeDocument('two.yaml', documentTo(originUrl.two)),
    '--config',
    gateways[0].bootstrap,
    '--canary',
    '1',
    ...JUDGING,
  ]);
  for (const gateway of gateways) await answersWith(gateway, 'two');
  const seen = await load.stop();
  assert.equal(pushed.code, 0, `${pushed.stdout}${pushed.stderr}`);
  assert.match(pushed.stdout, /PROMOTED at look 4\/4: held for 4000 ms, no metric worse: status_5xx 0\/\d+/);
  // Nothing failed anywhere on the way: every answer was one origin's or the other's.
  for (const gateway of gateways)
    for (const body of seen.get(gateway.name)?.keys() ?? [])
      assert.ok(body === 'one' || body === 'two', `${gateway.name} answered ${body}`);
  const after = await fleetJson();
  assert.equal((after.canary as { phase: string }).phase, 'promoted');
  assert.deepEqual(
    after.gateways.map((g) => [g.name, g.revision, g.behind]),
    gateways.map((g) => [g.name, after.latest, false]),
  );
  // The canary's gateway runs that document already: it takes the promoted revision without a reload.
  const taken = `config revision ${after.latest} taken: it holds the document running already, so nothing was reloaded`;
  await Promise.any(gateways.map((g) => g.serve?.waitForLines(taken, 1, 10_000)));
  // The promotion is a push of its own in the history, by the canary's author.
  const history = await candor(['config', 'history', '--config', gateways[0].bootstrap, '--json']);
  assert.equal(JSON.parse(history.stdout).entries[0].revision, after.latest);
});

test("a healthy canary of a document near etcd's request bound is promoted, not left running for good", async () => {
  // ~1 MiB (etcd takes 1.5 MiB a request by default): the canary's record holds it once, and
  // the promotion wrote it twice in one request (under the key, and in the verdict's record),
  // which etcd refused as too large: said "etcd does not answer" every window, the canary
  // running for good, and every push refused meanwhile as a canary under way.
  // To the origin the fleet runs already (the next test begins there): another document all the same.
  const big = `${documentTo(originUrl.two)}${`# ${'x'.repeat(1021)}\n`.repeat(1000)}`;
  const load = traffic();
  const pushed = await candor([
    'config',
    'push',
    writeDocument('big-two.yaml', big),
    '--config',
    gateways[0].bootstrap,
    '--canary',
    '1',
    ...JUDGING,
    '--no-wait',
  ]);
  assert.equal(pushed.code, 0, `${pushed.stdout}${pushed.stderr}`);
  let canary: { phase: string; verdict: string | null } | undefined;
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
    canary = (await fleetJson()).canary as typeof canary;
    if (canary?.phase !== 'running') break;
    await new Promise((r) => setTimeout(r, 250));
  }
  await load.stop();
  assert.equal(canary?.phase, 'promoted', canary?.verdict ?? '');
  // Every gateway on the promoted revision: the canary's without a reload, the others by one.
  let after = await fleetJson();
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; after = await fleetJson()) {
    if (after.gateways.every((g) => g.revision === after.latest)) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.deepEqual(
    after.gateways.map((g) => [g.name, g.revision, g.behind]),
    gateways.map((g) => [g.name, after.latest, false]),
  );
  const key = await new EtcdClient({ endpoints: [etcd.endpoint] }).range(FLEET_KEY);
  assert.equal(key.kvs[0].value, big);
});

/**
 * `document`, padded to the largest canary etcd takes in one request (1.5 MiB by default), found
 * by pushing it a little smaller each time (each refused as too large: nothing written); the file pushed.
 */
async function pushNearBound(document: string): Promise<string> {
  let pushed = { code: -1, stdout: '', stderr: '' };
  let file = '';
  for (let size = 1536 * 1024, tries = 0; pushed.code !== 0 && tries < 30; size -= 64, tries++) {
    file = writeDocument('near-bound.yaml', `${document}# ${'x'.repeat(size - document.length - 3)}\n`);
    pushed = await candor([
      'config',
      'push',
      file,
      '--config',
      gateways[0].bootstrap,
      '--canary',
      '1',
      ...JUDGING,
      '--no-wait',
    ]);
    if (pushed.code !== 0)
      assert.match(pushed.stderr, /^candor: not pushed: etcd refuses a write this large/);
  }
  assert.equal(pushed.code, 0, pushed.stderr);
  return file;
}

/** The canary's phase once it is over (30 s at most, under traffic). */
async function canaryEnd(): Promise<{ phase: string; verdict: string | null } | undefined> {
  const load = traffic();
  let canary: { phase: string; verdict: string | null } | undefined;
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
    canary = (await fleetJson()).canary as typeof canary;
    if (canary?.phase !== 'running') break;
    await new Promise((r) => setTimeout(r, 250));
  }
  await load.stop();
  return canary;
}

/** How many lines each gateway logged whose msg matches. */
const said = (pattern: RegExp) =>
  gateways.map((g) => (g.serve?.lines ?? []).filter((line) => pattern.test(String(line.msg))).length);

test("a healthy canary just under etcd's request bound: its looks etcd refuses are said so once; its promotion, past the bound, is a rollback saying why", async () => {
  // A look's record (the document and the look's figures) is past the bound, the counts between
  // looks (small records) are taken: one flag for both said "etcd does not answer" at each look
  // and "etcd answers again" at each count. The promotion (the document, its push record and
  // the verdict in one request) is past it too: refused at every look, it ran for good.
  const document = await pushNearBound(documentTo(originUrl.two));
  const canary = await canaryEnd();
  assert.equal(canary?.phase, 'rolled_back', canary?.verdict ?? '');
  assert.match(
    canary?.verdict ?? '',
    /^not promoted: etcd refuses the promotion's write as too large \(etcd: etcdserver: request is too large\): the document with its verdict is more than etcd takes in one request \(its --max-request-bytes\); push it without --canary$/,
  );
  // etcd refusing is never said as etcd not answering (a loaded machine may time a call out:
  // that one is said so, truly).
  const lies = gateways.flatMap((g) =>
    (g.serve?.lines ?? []).filter(
      (line) =>
        /^config canary: etcd does not answer/.test(String(line.msg)) && /too large/.test(String(line.err)),
    ),
  );
  assert.deepEqual(lies, []);
  const refusals = said(
    /^config canary: etcd refuses this gateway's look \(etcd: etcdserver: request is too large\): tried again at each one/,
  );
  // Said once by the gateway that judges, not again at each look.
  assert.ok(refusals.reduce((a, b) => a + b) >= 1 && refusals.every((n) => n <= 1), JSON.stringify(refusals));
  // What the verdict says to do is what etcd takes.
  const plain = await candor(['config', 'push', document, '--config', gateways[0].bootstrap]);
  assert.equal(plain.code, 0, plain.stderr);
});

test("a failing canary of a document just under etcd's request bound is rolled back, not left running for good", async () => {
  // Its verdict's record, the document and the verdict's line, was refused as too large at
  // every look, the canary running on its gateway for good.
  await pushNearBound(documentTo(`http://127.0.0.1:${closedPort}`));
  const canary = await canaryEnd();
  assert.equal(canary?.phase, 'rolled_back', canary?.verdict ?? '');
  // Its gateway back on the revision the rest run.
  await answersWith(gateways[0], 'two');
});

test('a canary gateway that dies fails the canary: rolled back when its lease ends, the others never take it', async () => {
  const pushed = await candor([
    'config',
    'push',
    writeDocument('back-to-one.yaml', documentTo(originUrl.one)),
    '--config',
    gateways[0].bootstrap,
    '--canary',
    '1',
    '--judge-window',
    '1s',
    '--judge-for',
    '60s',
    '--no-wait',
  ]);
  assert.equal(pushed.code, 0, pushed.stderr);
  await answersWith(gateways[0], 'one');
  const killed = gateways[0].serve?.child;
  // Gone from here on: after() must not wait for this one's exit (it came already).
  gateways[0].serve = undefined;
  const exited = new Promise((r) => killed?.once('exit', r));
  killed?.kill('SIGKILL');
  await exited;
  const load = traffic().stop;
  let canary: { phase: string; verdict: string | null } | undefined;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    canary = (await fleetJson()).canary as typeof canary;
    if (canary?.phase !== 'running') break;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.equal(canary?.phase, 'rolled_back');
  assert.match(
    canary?.verdict ?? '',
    /^canary gateway gw-a is gone \(its lease ended: it stopped, died or lost etcd\)$/,
  );
  const seen = await load();
  for (const name of ['gw-b', 'gw-c'])
    assert.deepEqual([...(seen.get(name)?.keys() ?? [])], ['two'], `${name} never took the canary`);
});
