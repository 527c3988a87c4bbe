/**
 * A fleet's document written as any config file `candor check` takes: JSON (what a generator
 * writes: jsonnet, CUE, `yq -o json`), YAML indented as a whole, or ending with YAML's `...`
 * end marker. Each is pushed and applied by a gateway of two workers as a document of block YAML
 * is, and a problem in it is told at its own line and column, never at the bootstrap file's local
 * section it is composed with, which has nothing wrong. A problem in `local` is told at its line
 * and column of the bootstrap file, whatever the document's form.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
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
  sourceOf,
} from '../../helpers/fleet-gateways.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const dir = tempDir('candor-fleet-forms-');
let etcd: EtcdProcess;
let gateway: FleetGateway;
let client: EtcdClient;
const origins = new NamedOrigins();

before(async () => {
  etcd = await startEtcd();
  await origins.start(['one', 'two', 'three', 'four']);
  gateway = await fleetBootstrap(dir, 'gw-f', [etcd.endpoint]);
  client = new EtcdClient({ endpoints: [etcd.endpoint], timeoutMs: 2000 });
  await client.put(FLEET_KEY, documentTo(origins.url.one));
  gateway.serve = await startServe(gateway.bootstrap, 2, { admin: true });
});

after(async () => {
  await closeAll(gateway?.serve, origins.servers, etcd);
  rmSync(dir, { recursive: true, force: true });
});

/** The document of documentTo(`url`) as JSON, one field a line, as a generator writes it. */
const jsonTo = (url: string, timeouts = '') => `{
  "routes": [
    { "name": "all", "match": { "path": "/" }, "upstream": "app" }
  ],
  "upstreams": {
    "app": {${timeouts}
      "targets": [{ "url": "${url}" }]
    }
  }
}
`;

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** Both workers answer with `body`: asked a dozen times once one did (each connection its own). */
async function everyWorkerAnswers(body: string): Promise<void> {
  await answersWith(gateway, body);
  for (let i = 0; i < 12; i++) {
    const answer = await request(`http://127.0.0.1:${gateway.serve?.port}`, {
      path: '/',
      headers: { connection: 'close' },
    });
    assert.equal(answer.body.toString(), body);
  }
}

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

test('a gateway started on a revision written without `candor config push` names its author as one applied later would', async () => {
  // The same words /status gives a hand-written revision applied while running, not null.
  assert.equal((await sourceOf(gateway)).author, 'unknown (no push record)');
});

test('a document in JSON, indented as a whole, or ending with "...": pushed, and applied by both workers of the gateway', async () => {
  const forms: [string, string, string][] = [
    ['json', jsonTo(origins.url.two), 'two'],
    ['indented', documentTo(origins.url.three).replace(/^(?=.)/gm, '  '), 'three'],
    ['ended', `${documentTo(origins.url.four)}...\n# the end\n`, 'four'],
  ];
  for (const [name, text, body] of forms) {
    const file = write(`${name}.yaml`, text);
    const pushed = await candor(['config', 'push', file, '--config', gateway.bootstrap, '--author', 'alice']);
    assert.equal(pushed.code, 0, `${name}: ${pushed.stderr}`);
    const revision = Number(/pushed as revision (\d+)/.exec(pushed.stdout)?.[1]);
    await everyWorkerAnswers(body);
    const source = await sourceOf(gateway);
    assert.equal(source.revision, revision, name);
    assert.equal(source.refused, null, name);
    // Kept as the last good document, as pushed.
    assert.equal(readFileSync(join(gateway.state, 'last-good.yaml'), 'utf8'), text, name);
  }
});

test('a problem in a JSON document is told at its line and column in the document (push and gateway alike), never at the bootstrap file', async () => {
  const text = jsonTo(origins.url.two, '\n      "timeouts": { "connect": "fast" },');
  const file = write('bad.json', text);
  const pushed = await candor(['config', 'push', file, '--config', gateway.bootstrap]);
  assert.equal(pushed.code, 78, pushed.stderr);
  assert.match(pushed.stderr, new RegExp(`^${file}:7:32  upstreams\\.app\\.timeouts\\.connect: `));
  assert.doesNotMatch(pushed.stderr, new RegExp(gateway.bootstrap));
  // Written by hand under the key: the gateway refuses it there, at the same place, and serves on.
  const running = (await sourceOf(gateway)).revision;
  const revision = await client.put(FLEET_KEY, text);
  const problems = await refusalOf(revision);
  assert.equal(problems.length, 1, problems.join('\n'));
  assert.match(
    problems[0],
    new RegExp(`^etcd:${FLEET_KEY}@${revision}:7:32  upstreams\\.app\\.timeouts\\.connect: `),
  );
  assert.equal((await sourceOf(gateway)).revision, running);
});

test('a problem in local is told at its line and column of the bootstrap file, the document in block YAML or in JSON', async () => {
  const bootstrap = write(
    'bad-local.yaml',
    readFileSync(gateway.bootstrap, 'utf8').replace('127.0.0.1:0', '127.0.0.1:99999'),
  );
  // `    - address: 127.0.0.1:99999` is line 9; its value begins at column 16.
  assert.equal(readFileSync(bootstrap, 'utf8').split('\n')[8], '    - address: 127.0.0.1:99999');
  for (const [name, text] of [
    ['block.yaml', documentTo(origins.url.two)],
    ['local.json', jsonTo(origins.url.two)],
  ]) {
    const pushed = await candor(['config', 'push', write(name, text), '--config', bootstrap]);
    assert.equal(pushed.code, 78, pushed.stderr);
    assert.match(
      pushed.stderr,
      new RegExp(`^${bootstrap}:9:16  listen\\[0\\]\\.address: expected host:port`),
      name,
    );
  }
});
