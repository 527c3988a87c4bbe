/**
 * One `candor serve` gateway and its last good config, against a real etcd (Debian's
 * etcd-server) behind a relay the test cuts: started on its last good config while etcd cannot
 * be read, it says etcd answers again once its watch opens, and takes etcd's revision; a last
 * good document edited, damaged or emptied on disk is not started on (exit 69, the file named);
 * a revision in its record that etcd never gave does not keep etcd's revisions out.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type CuttableRelay, cuttableRelay } from '../../helpers/cuttable-relay.ts';
import { type EtcdProcess, startEtcd } from '../../helpers/etcd-server.ts';
import {
  answersWith,
  candor,
  FLEET_TOKEN,
  type FleetGateway,
  fleetBootstrap,
  NamedOrigins,
  pushDocument,
  serveGateway,
  sourceOf,
} from '../../helpers/fleet-gateways.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const dir = tempDir('candor-fleet-last-good-');
let etcd: EtcdProcess;
let relay: CuttableRelay;
let gateway: FleetGateway;
/** etcd's latest revision, pushed by the first test. */
let latest = 0;
const origins = new NamedOrigins();
const originUrl = origins.url;

const push = (name: string) => pushDocument(gateway, dir, name, originUrl[name]);

const answers = (body: string) => answersWith(gateway, body);

async function metric(name: string): Promise<string | undefined> {
  const metrics = await request(`http://127.0.0.1:${gateway.adminPort}`, {
    path: '/metrics',
    headers: { authorization: `Bearer ${FLEET_TOKEN}` },
  });
  return new RegExp(`^${name}\\{key="/candor/config"\\} (\\S+)$`, 'm').exec(metrics.body.toString())?.[1];
}

/** A first start on etcd's revision of `name`: the gateway keeps it as its last good config; then stopped. */
async function keptLastGood(name: string): Promise<number> {
  const revision = await push(name);
  await serveGateway(gateway);
  await answers(name);
  for (let tries = 0; tries < 100 && !existsSync(join(gateway.state, 'last-good.json')); tries++)
    await new Promise((r) => setTimeout(r, 50));
  await gateway.serve?.stop();
  return revision;
}

before(async () => {
  etcd = await startEtcd();
  relay = await cuttableRelay(Number(new URL(etcd.endpoint).port));
  await origins.start(['one', 'two', 'three']);
  gateway = await fleetBootstrap(dir, 'gw-a', [`http://127.0.0.1:${relay.port}`]);
});

after(async () => {
  await closeAll(gateway?.serve, origins.servers, relay, etcd);
  rmSync(dir, { recursive: true, force: true });
});

test('started on its last good config while etcd could not be read, the gateway says etcd answers again when its watch opens, and takes its revision', async () => {
  const kept = await keptLastGood('one');
  latest = await push('two');
  // The start's two reads (the key, its push record) fail; the next call, once the gateway
  // follows the key, is held until /status said so: etcd answers the first call it makes then,
  // with no failed one before it.
  relay.cutAt('/v3/kv/range', 2);
  const following = relay.holdAt('/v3/');
  const serve = await serveGateway(gateway);
  assert.match(
    serve.stderr(),
    new RegExp(`etcd cannot be reached \\(.*\\): starting on the last good config, revision ${kept} `),
  );
  await answers('one');
  assert.match(
    String((await sourceOf(gateway)).summary),
    /^source unreachable since .*, running revision \d+$/,
  );
  await following;
  relay.release();
  await serve.waitForLines('config source reachable again', 1, 15_000);
  await answers('two');
  const source = await sourceOf(gateway);
  assert.equal(source.summary, `etcd reachable, running revision ${latest}`);
  assert.equal(source.reachable, true);
  assert.equal(source.unreachable_since, null);
  assert.equal(await metric('candor_config_source_unreachable_since_seconds'), '0');
  await serve.stop();
});

test('a last good document edited, damaged or emptied since it was kept is not started on: exit 69, naming the file', async () => {
  const yaml = join(gateway.state, 'last-good.yaml');
  const kept = readFileSync(yaml, 'utf8');
  relay.cut();
  try {
    for (const text of [kept.replace(originUrl.two, originUrl.three), 'routes: [ {{{ not: yaml\n', '']) {
      writeFileSync(yaml, text);
      const served = await candor(['serve', '--workers', '1', '--config', gateway.bootstrap], {
        XDG_STATE_HOME: dir,
      });
      assert.equal(served.code, 69, served.stderr);
      assert.match(
        served.stderr,
        new RegExp(
          `^candor: could not start: etcd cannot be reached \\(.*\\), and the last good config in ${yaml} cannot be used: ${yaml} is not the document its record kept \\(its hash is sha256:[0-9a-f]{64}, ${join(gateway.state, 'last-good.json')} says sha256:[0-9a-f]{64}\\): edited or damaged since\n$`,
        ),
      );
    }
  } finally {
    writeFileSync(yaml, kept);
    relay.mend();
  }
});

test('a last good document that is a FIFO nobody writes (or a link to /dev/zero) is not started on, nor waited on: exit 69, naming the file', async () => {
  const yaml = join(gateway.state, 'last-good.yaml');
  const kept = readFileSync(yaml, 'utf8');
  relay.cut();
  try {
    for (const make of [
      ['mkfifo', yaml],
      ['ln', '-s', '/dev/zero', yaml],
    ]) {
      rmSync(yaml, { force: true });
      execFileSync(make[0], make.slice(1));
      const served = await candor(['serve', '--workers', '1', '--config', gateway.bootstrap], {
        XDG_STATE_HOME: dir,
      });
      // Before, the read waited for a writer (or read /dev/zero without end) until the process was killed.
      assert.equal(served.code, 69, served.stderr);
      assert.match(
        served.stderr,
        new RegExp(`the last good config in ${yaml} cannot be used: ${yaml} is not a regular file\n$`),
      );
    }
  } finally {
    rmSync(yaml, { force: true });
    writeFileSync(yaml, kept);
    relay.mend();
  }
});

test("a last good record naming a revision etcd never gave (999999) keeps none of etcd's out: its value is taken, then the next push", async () => {
  const json = join(gateway.state, 'last-good.json');
  writeFileSync(json, JSON.stringify({ ...JSON.parse(readFileSync(json, 'utf8')), revision: 999_999 }));
  relay.cutAt('/v3/kv/range', 2);
  const serve = await serveGateway(gateway);
  assert.match(serve.stderr(), /: starting on the last good config, revision 999999 /);
  await serve.waitForLines('config source reachable again', 1, 15_000);
  // The same document as etcd's latest: not applied again, only etcd's revision named.
  for (let tries = 0; tries < 100; tries++) {
    if ((await sourceOf(gateway)).revision === latest) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal((await sourceOf(gateway)).summary, `etcd reachable, running revision ${latest}`);
  const pushed = await push('three');
  await answers('three');
  assert.equal((await sourceOf(gateway)).summary, `etcd reachable, running revision ${pushed}`);
  assert.equal(JSON.parse(readFileSync(json, 'utf8')).revision, pushed);
  await serve.stop();
});

test('a last good document its record vouches for but this gateway refuses (kept by an older one) is not started on: exit 69, its problems and the file named', async () => {
  const yaml = join(gateway.state, 'last-good.yaml');
  const json = join(gateway.state, 'last-good.json');
  const [keptYaml, keptJson] = [readFileSync(yaml, 'utf8'), readFileSync(json, 'utf8')];
  const refused = 'routes:\n  - name: all\n    match: { path: / }\n    upstream: nowhere\n';
  writeFileSync(yaml, refused);
  writeFileSync(
    json,
    JSON.stringify({
      ...JSON.parse(keptJson),
      document_hash: `sha256:${createHash('sha256').update(refused).digest('hex')}`,
    }),
  );
  relay.cut();
  try {
    const served = await candor(['serve', '--workers', '1', '--config', gateway.bootstrap], {
      XDG_STATE_HOME: dir,
    });
    assert.equal(served.code, 69, served.stderr);
    assert.match(served.stderr, /routes\[0\]\.upstream: .*nowhere/);
    assert.match(
      served.stderr,
      new RegExp(
        `\ncandor: could not start: etcd cannot be reached \\(.*\\), and the last good config in ${yaml} cannot be used: it fails validation \\(above\\)\n$`,
      ),
    );
  } finally {
    writeFileSync(yaml, keptYaml);
    writeFileSync(json, keptJson);
    relay.mend();
  }
});
