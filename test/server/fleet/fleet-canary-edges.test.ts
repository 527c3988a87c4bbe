/**
 * A config canary's edges on one gateway, its canary record written straight to a real etcd
 * (Debian's etcd-server) as `candor config push --canary` and the judge write it: a canary rolled
 * back while the config key is deleted still takes its gateway off the canary, back to the last
 * good config it ran (saying so); a canary record written again (the judge's look) while its
 * gateway is applying it is applied once, not queued again behind itself; and a canary its
 * gateway refused is not applied (and refused) again each time its record is written.
 */
import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { CanaryRecord } from '../../../src/server/fleet/fleet-keys.ts';
import { EtcdClient } from '../../../src/upstream/config-source/etcd-client.ts';
import { type EtcdProcess, startEtcd } from '../../helpers/etcd-server.ts';
import {
  answersWith,
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

const dir = tempDir('candor-fleet-canary-edges-');
const CANARY_KEY = `${FLEET_KEY}/canary`;
let etcd: EtcdProcess;
let gateway: FleetGateway;
let client: EtcdClient;
const origins = new NamedOrigins();

before(async () => {
  etcd = await startEtcd();
  await origins.start(['one', 'two', 'three']);
  gateway = await fleetBootstrap(dir, 'gw-k', [etcd.endpoint]);
  client = new EtcdClient({ endpoints: [etcd.endpoint], timeoutMs: 2000 });
  await client.put(FLEET_KEY, documentTo(origins.url.one));
  await serveGateway(gateway);
});

after(async () => {
  await closeAll(gateway?.serve, origins.servers, etcd);
  rmSync(dir, { recursive: true, force: true });
});

/** A canary record on this gateway, judged too slowly to end by itself during the test. */
const canary = (document: string, from: number, more: Partial<CanaryRecord> = {}): string =>
  JSON.stringify({
    author: 'test',
    at: new Date().toISOString(),
    from,
    document,
    gateways: ['gw-k'],
    window_ms: 600_000,
    judge_for_ms: 3_600_000,
    min_requests: 1_000_000,
    phase: 'running',
    verdict: null,
    ...more,
  } satisfies CanaryRecord);

const answers = (body: string) => answersWith(gateway, body);

const lines = (msg: string) => (gateway.serve?.lines ?? []).filter((l) => l.msg === msg);

/**
 * Waits (15 s at most) until the gateway runs `revision` of the config key: applied, or taken
 * without a reload when it holds the document running already (fleet-same-document.test.ts).
 */
async function runs(revision: number): Promise<void> {
  let running: unknown;
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; ) {
    running = (await sourceOf(gateway)).revision;
    if (running === revision) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(running, revision);
}

test('a canary rolled back while the config key is deleted: its gateway goes back to its last good config, and says so', async () => {
  const first = Number((await sourceOf(gateway)).revision);
  await answers('one');
  const revision = await client.put(CANARY_KEY, canary(documentTo(origins.url.two), first));
  await gateway.serve?.waitForLines(`config revision ${revision} applied as a canary`, 1, 15_000);
  await answers('two');

  const deleted = await fetch(`${etcd.endpoint}/v3/kv/deleterange`, {
    method: 'POST',
    body: JSON.stringify({ key: Buffer.from(FLEET_KEY).toString('base64') }),
  });
  assert.equal(deleted.status, 200);
  await gateway.serve?.waitForLines('the config key was deleted: the running config stays', 1, 10_000);
  await client.put(
    CANARY_KEY,
    canary(documentTo(origins.url.two), first, { revision, phase: 'rolled_back', verdict: 'by the test' }),
  );
  const back = `config revision ${first} applied again: the canary rolled back and the config key holds nothing, so the last good config runs`;
  await gateway.serve?.waitForLines(back, 1, 15_000);
  await answers('one');
  assert.equal((await sourceOf(gateway)).revision, first);
  assert.equal(lines(back).length, 1);
});

test('a canary record written again while its gateway applies it is applied once', async () => {
  const main = await client.put(FLEET_KEY, documentTo(origins.url.one));
  await runs(main);
  // The canary's plugin module says when it is imported (its reload under way), then takes a while.
  const marker = join(dir, 'importing');
  const plugin = join(dir, 'slow.mjs');
  writeFileSync(
    plugin,
    `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(marker)}, 'x');\n` +
      'await new Promise((r) => setTimeout(r, 1500));\nexport default () => ({});\n',
  );
  const document = `plugins:\n  slow: { module: ${plugin} }\n${documentTo(origins.url.three).replace(
    'upstream: app',
    'upstream: app\n    plugins: [slow]',
  )}`;
  const revision = await client.put(CANARY_KEY, canary(document, main));
  for (const deadline = Date.now() + 15_000; !existsSync(marker); ) {
    assert.ok(Date.now() < deadline, 'the canary’s reload began');
    await new Promise((r) => setTimeout(r, 20));
  }
  // The judge's look, say: the same canary written again while this gateway applies it.
  await client.put(CANARY_KEY, canary(document, main, { revision, last_look: 'a look' }));
  const applied = `config revision ${revision} applied as a canary`;
  await gateway.serve?.waitForLines(applied, 1, 15_000);
  await answers('three');
  // A second application would follow the first at once: it is given the time of one.
  await new Promise((r) => setTimeout(r, 4000));
  assert.equal(lines(applied).length, 1);
});

test('a canary its gateway refused is not tried again when its record is written again', async () => {
  const main = await client.put(FLEET_KEY, documentTo(origins.url.one));
  await runs(main);
  const document = `bogus_field: 1\n${documentTo(origins.url.two)}`;
  const revision = await client.put(CANARY_KEY, canary(document, main));
  const refused = `config revision ${revision} refused: the running config (revision ${main}) stays`;
  await gateway.serve?.waitForLines(refused, 1, 15_000);
  // The judge's look, say, before it rolls the refused canary back.
  await client.put(CANARY_KEY, canary(document, main, { revision, last_look: 'a look' }));
  // A second refusal would follow the record at once: it is given the time of one.
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal(lines(refused).length, 1);
  await answers('one');
});
