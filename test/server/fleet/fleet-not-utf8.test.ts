/**
 * A fleet's document whose bytes are not UTF-8 (a file saved as Latin-1, written under the key by
 * hand or given to `candor config push`): refused as `candor check` refuses such a file, at the
 * byte's line and column, never taken with the byte replaced by U+FFFD (a config that says
 * "caf\ufffd" where its author wrote "café", or a push that stores bytes other than the file's).
 */
import assert from 'node:assert/strict';
import { rmSync, truncateSync, writeFileSync } from 'node:fs';
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
  sourceOf,
} from '../../helpers/fleet-gateways.ts';
import { closeAll } from '../../helpers/keep.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const dir = tempDir('candor-fleet-utf8-');
let etcd: EtcdProcess;
let gateway: FleetGateway;
let client: EtcdClient;
const origins = new NamedOrigins();
const NOT_UTF8 =
  'the document is not UTF-8 here: byte 0xe9 is no character in UTF-8 (a file saved as Latin-1 or Windows-1252?); save it as UTF-8 and push it again';

/** documentTo(`url`) after a comment holding "café" in Latin-1 (its é the one byte 0xE9). */
const latin1 = (url: string) =>
  Buffer.concat([Buffer.from('# caf'), Buffer.from([0xe9]), Buffer.from(`\n${documentTo(url)}`)]);

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

test('a value under the key that is not UTF-8 is refused at its byte, and the gateway serves on', async () => {
  const running = (await sourceOf(gateway)).revision;
  // etcdctl put < latin1.yaml: the JSON gateway carries the value's bytes as base64.
  const answer = await fetch(`${etcd.endpoint}/v3/kv/put`, {
    method: 'POST',
    body: JSON.stringify({
      key: Buffer.from(FLEET_KEY).toString('base64'),
      value: latin1(origins.url.two).toString('base64'),
    }),
  });
  const revision = Number(((await answer.json()) as { header: { revision: string } }).header.revision);
  let source = await sourceOf(gateway);
  for (const deadline = Date.now() + 15_000; source.revision === running && source.refused === null; ) {
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 100));
    source = await sourceOf(gateway);
  }
  assert.equal(source.revision, running);
  assert.deepEqual((source.refused as { problems: string[] } | null)?.problems, [
    `etcd:${FLEET_KEY}@${revision}:1:6  ${NOT_UTF8}`,
  ]);
  await answersWith(gateway, 'one');
});

test('candor config push of a file that is not UTF-8: refused at its byte, exit 78, nothing written', async () => {
  const file = join(dir, 'latin1.yaml');
  writeFileSync(file, latin1(origins.url.two));
  const before = (await client.range(FLEET_KEY)).kvs[0].modRevision;
  const pushed = await candor(['config', 'push', file, '--config', gateway.bootstrap]);
  assert.equal(pushed.code, 78);
  assert.equal(
    pushed.stderr,
    `${file}:1:6  ${NOT_UTF8}\n1 problem in ${file}\nnot pushed: the fleet keeps its config\n`,
  );
  assert.equal((await client.range(FLEET_KEY)).kvs[0].modRevision, before);
});

test('candor config push of a document past 4 MiB: refused at the file as candor check refuses it, exit 78, nothing sent', async () => {
  const file = join(dir, 'large.yaml');
  // Valid YAML, 5 MiB of comments: a log or a dump pushed by mistake.
  writeFileSync(file, documentTo(origins.url.two) + `# ${'x'.repeat(1021)}\n`.repeat(5 * 1024));
  const before = (await client.range(FLEET_KEY)).kvs[0].modRevision;
  const pushed = await candor(['config', 'push', file, '--config', gateway.bootstrap]);
  assert.equal(pushed.code, 78, pushed.stderr);
  assert.equal(
    pushed.stderr,
    `${file}  the document is more than 4 MiB: no config is that large (one using every field is a few KiB)\n1 problem in ${file}\nnot pushed: the fleet keeps its config\n`,
  );
  assert.equal((await client.range(FLEET_KEY)).kvs[0].modRevision, before);
});

test('candor config push of a document under 4 MiB but past what etcd takes in one request: not pushed, saying so, exit 78, nothing written', async () => {
  // etcd's --max-request-bytes is 1.5 MiB by default: refused by etcd as "request is too large"
  // below 2 MiB, by its gRPC server as "received message larger than max" above. Either was
  // printed as etcd's bare words, exit 69 (etcd unreachable, or the key moved): not said pushed
  // or not, nor why.
  for (const [name, lines] of [
    ['large-1.6m.yaml', 1600],
    ['large-3m.yaml', 3000],
  ] as const) {
    const file = join(dir, name);
    writeFileSync(file, documentTo(origins.url.two) + `# ${'x'.repeat(1021)}\n`.repeat(lines));
    const size = documentTo(origins.url.two).length + 1024 * lines;
    const before = (await client.range(FLEET_KEY)).kvs[0].modRevision;
    const pushed = await candor(['config', 'push', file, '--config', gateway.bootstrap]);
    assert.equal(pushed.code, 78, pushed.stderr);
    assert.match(
      pushed.stderr,
      new RegExp(
        `^candor: not pushed: etcd refuses a write this large \\(etcd: [^\\n]+\\): ${file} is ${size} bytes, more than etcd takes in one request \\(its --max-request-bytes, 1\\.5 MiB unless its members set more\\); nothing was written, the fleet keeps its config\\n$`,
      ),
    );
    assert.equal((await client.range(FLEET_KEY)).kvs[0].modRevision, before);
  }
});

test('candor config push of a file past what a string holds (a log named by mistake): refused past 4 MiB, read no further, exit 78', async () => {
  const file = join(dir, 'huge.log');
  // 600 MiB, sparse: read whole, its text would be past V8's longest string.
  writeFileSync(file, '');
  truncateSync(file, 600 * 1024 * 1024);
  const before = (await client.range(FLEET_KEY)).kvs[0].modRevision;
  const pushed = await candor(['config', 'push', file, '--config', gateway.bootstrap]);
  rmSync(file);
  assert.equal(pushed.code, 78, pushed.stderr);
  assert.equal(
    pushed.stderr,
    `${file}  the document is more than 4 MiB: no config is that large (one using every field is a few KiB)\n1 problem in ${file}\nnot pushed: the fleet keeps its config\n`,
  );
  assert.equal((await client.range(FLEET_KEY)).kvs[0].modRevision, before);
});
