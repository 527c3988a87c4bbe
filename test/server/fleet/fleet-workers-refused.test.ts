/**
 * A revision every worker refused for a reason that is not the document's (here the upstream's
 * TLS CA, there when the primary checked the document, gone when the worker reads it: a plugin's
 * factory, which runs between the two, removes it): the primary goes back to the config before,
 * so the gateway serves on the revision it ran. The fleet must say so: the revision refused with
 * the worker's reason, the running and last good revision the one before, the metrics alike;
 * never "applied" while nothing runs it.
 */
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { EtcdClient } from '../../../src/upstream/config-source/etcd-client.ts';
import { type EtcdProcess, startEtcd } from '../../helpers/etcd-server.ts';
import {
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
import { tempDir } from '../../helpers/temp-dir.ts';

const dir = tempDir('candor-fleet-workers-refused-');
let etcd: EtcdProcess;
let gateway: FleetGateway;
let client: EtcdClient;
const origins = new NamedOrigins();

before(async () => {
  etcd = await startEtcd();
  await origins.start(['one', 'two', 'three']);
  gateway = await fleetBootstrap(dir, 'gw-r', [etcd.endpoint]);
  client = new EtcdClient({ endpoints: [etcd.endpoint], timeoutMs: 2000 });
  await client.put(FLEET_KEY, documentTo(origins.url.one));
  await serveGateway(gateway);
});

after(async () => {
  await closeAll(gateway?.serve, origins.servers, etcd);
  rmSync(dir, { recursive: true, force: true });
});

async function answer(): Promise<string> {
  return (await request(`http://127.0.0.1:${gateway.serve?.port}`, { path: '/' })).body.toString();
}

async function metric(name: string): Promise<string | undefined> {
  const metrics = await request(`http://127.0.0.1:${gateway.adminPort}`, {
    path: '/metrics',
    headers: { authorization: `Bearer ${FLEET_TOKEN}` },
  });
  return new RegExp(`^${name}\\{key="${FLEET_KEY}"\\} (\\S+)$`, 'm').exec(metrics.body.toString())?.[1];
}

/** Waits (20 s at most) for a line of the gateway's log whose message starts so. */
async function lineStarting(prefix: string): Promise<Record<string, unknown>> {
  const serve = gateway.serve;
  assert.ok(serve !== undefined);
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
    const found = serve.lines.find((l) => String(l.msg).startsWith(prefix));
    if (found !== undefined) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`no line "${prefix}…": ${JSON.stringify(serve.lines.slice(-5))}`);
}

test('a revision every worker refused for a reason not the document’s is told refused, and the revision before stays running and last good', async () => {
  const first = Number((await sourceOf(gateway)).revision);
  assert.equal(await answer(), 'one');
  const ca = join(dir, 'ca.pem');
  copyFileSync(testCertificates().caPath, ca);
  const plugin = join(dir, 'takes-the-file.mjs');
  writeFileSync(
    plugin,
    "import { rmSync } from 'node:fs';\nexport default (options) => { rmSync(options.path, { force: true }); return {}; };\n",
  );
  const document =
    `plugins:\n  takes:\n    module: ${plugin}\n    options: { path: ${ca} }\n` +
    `routes:\n  - name: all\n    match: { path: / }\n    upstream: app\n    plugins: [takes]\n` +
    `upstreams:\n  app:\n    targets:\n      - url: ${origins.url.two}\n    tls: { ca: ${ca} }\n`;
  const refusedRevision = await client.put(FLEET_KEY, document);

  const line = await lineStarting(`config revision ${refusedRevision} `);
  assert.equal(
    line.msg,
    `config revision ${refusedRevision} refused: the running config (revision ${first}) stays`,
    JSON.stringify(line),
  );
  assert.equal(line.level, 'error');
  const problems = line.problems as string[];
  assert.equal(problems.length, 1, JSON.stringify(problems));
  assert.match(problems[0], /^etcd:\/candor\/config@\d+ {2}worker 1: .*ENOENT.*ca\.pem/);
  assert.equal(await answer(), 'one', 'the gateway serves the revision before');

  const source = await sourceOf(gateway);
  assert.equal(source.revision, first);
  assert.equal((source.refused as { revision: number }).revision, refusedRevision);
  const lastGood = JSON.parse(readFileSync(join(gateway.state, 'last-good.json'), 'utf8'));
  assert.equal(lastGood.revision, first);
  assert.equal(await metric('candor_config_source_revision'), String(first));
  assert.equal(await metric('candor_config_source_refused_revision'), String(refusedRevision));
  const records = await client.range(`${FLEET_KEY}/gateways/gw-r`);
  assert.equal(
    JSON.parse(records.kvs[0].value).revision,
    first,
    'the fleet record names the revision running',
  );

  // The next revision is applied as any is.
  const next = await client.put(FLEET_KEY, documentTo(origins.url.three));
  const applied = await lineStarting(`config revision ${next} `);
  assert.equal(applied.msg, `config revision ${next} applied`);
  assert.equal(await answer(), 'three');
});
