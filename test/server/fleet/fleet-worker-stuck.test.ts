/**
 * A revision applied while a worker does not answer (stopped: a stalled process): the reload is
 * incomplete, and the gateway's line says so, naming the worker and why, at `warn`, where it said
 * a plain "config revision N applied" at `info` while the worker served the config before. The
 * worker, answering again, swaps to it.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { EtcdClient } from '../../../src/upstream/config-source/etcd-client.ts';
import { type EtcdProcess, startEtcd } from '../../helpers/etcd-server.ts';
import {
  documentTo,
  FLEET_KEY,
  type FleetGateway,
  fleetBootstrap,
  NamedOrigins,
  serveGateway,
  sourceOf,
} from '../../helpers/fleet-gateways.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { childPids } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const dir = tempDir('candor-fleet-stuck-');
let etcd: EtcdProcess;
let gateway: FleetGateway;
let client: EtcdClient;
let stopped: number[] = [];
const origins = new NamedOrigins();

before(async () => {
  etcd = await startEtcd();
  await origins.start(['one', 'two']);
  gateway = await fleetBootstrap(dir, 'gw-k', [etcd.endpoint]);
  client = new EtcdClient({ endpoints: [etcd.endpoint], timeoutMs: 2000 });
  await client.put(FLEET_KEY, documentTo(origins.url.one));
  await serveGateway(gateway);
});

after(async () => {
  for (const pid of stopped) {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // Gone already.
    }
  }
  await closeAll(gateway?.serve, origins.servers, etcd);
  rmSync(dir, { recursive: true, force: true });
});

test('a revision applied while the worker is stopped is said applied but not by every worker, at warn', async () => {
  await sourceOf(gateway);
  const serve = gateway.serve;
  assert.ok(serve !== undefined);
  stopped = childPids(serve.child.pid);
  assert.equal(stopped.length, 1, 'one worker');
  for (const pid of stopped) process.kill(pid, 'SIGSTOP');
  const revision = await client.put(FLEET_KEY, documentTo(origins.url.two));
  const prefix = `config revision ${revision} applied`;
  // The reload waits for the worker's answer for 5 s, then is incomplete.
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
    if (serve.lines.some((l) => String(l.msg).startsWith(prefix))) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const said = serve.lines.filter((l) => String(l.msg).startsWith(prefix));
  assert.equal(said.length, 1, JSON.stringify(serve.lines.slice(-5)));
  assert.equal(said[0].level, 'warn');
  assert.equal(
    said[0].msg,
    `${prefix}, but not by every worker yet: worker 1 (no answer within 5000 ms) did not confirm the swap, and serves the config before until it does`,
  );
  assert.equal(said[0].result, 'incomplete');
  for (const pid of stopped) process.kill(pid, 'SIGCONT');
  stopped = [];
  let answer = '';
  for (const deadline = Date.now() + 15_000; answer !== 'two' && Date.now() < deadline; ) {
    answer = (await request(`http://127.0.0.1:${serve.port}`, { path: '/' })).body.toString();
    if (answer !== 'two') await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(answer, 'two');
});
