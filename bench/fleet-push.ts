/**
 * How long a push takes to reach a fleet: three `candor serve` gateways (one worker each) on a
 * real etcd on loopback, and N pushes one after another, each timed from the push's start
 * (pushDocument: the read, the local check, the transaction) to the moment the last of the
 * three logged `config revision R applied` (its line read from its stdout), and from etcd's
 * commit to that moment. Prints the median, the spread and every figure.
 *
 *   node_modules/.bin/node bench/fleet-push.ts [--pushes=20]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBootstrap } from '../src/core/config/bootstrap-file.ts';
import { pushDocument } from '../src/server/fleet/config-push.ts';
import { etcdClientOf } from '../src/server/fleet/fleet-start.ts';
import { startEtcd } from '../test/helpers/etcd-server.ts';
import { fleetBootstrap, serveGateway } from '../test/helpers/fleet-gateways.ts';

const pushes = Number(/^--pushes=(\d+)$/.exec(process.argv[2] ?? '')?.[1] ?? 20);
const dir = mkdtempSync(join(tmpdir(), 'candor-fleet-bench-'));
const etcd = await startEtcd();
const origin = http.createServer((_req, res) => res.end('ok'));
await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(origin.address() as { port: number }).port}`;
const documentOf = (i: number) =>
  `routes:\n  - name: all\n    match: { path: / }\n    upstream: app\nupstreams:\n  app:\n    timeouts: { connect: ${1000 + i}ms }\n    targets:\n      - url: ${url}\n`;
const gateways = await Promise.all(
  ['gw-a', 'gw-b', 'gw-c'].map((name) => fleetBootstrap(dir, name, [etcd.endpoint])),
);
try {
  const bootstrap = readBootstrap(gateways[0].bootstrap);
  const client = etcdClientOf(bootstrap);
  const initial = await pushDocument(client, bootstrap, documentOf(0), 'bench');
  if (!('pushed' in initial)) throw new Error(`first push: ${JSON.stringify(initial)}`);
  const serving = await Promise.all(gateways.map(serveGateway));
  const fromPush: number[] = [];
  const fromCommit: number[] = [];
  for (let i = 1; i <= pushes; i++) {
    const start = performance.now();
    const result = await pushDocument(client, bootstrap, documentOf(i), 'bench');
    const committed = performance.now();
    if (!('pushed' in result)) throw new Error(`push ${i}: ${JSON.stringify(result)}`);
    const applied = `config revision ${result.pushed} applied`;
    await Promise.all(serving.map((serve) => serve.waitForLines(applied, 1, 10_000)));
    const last = performance.now();
    fromPush.push(last - start);
    fromCommit.push(last - committed);
  }
  const median = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  };
  const show = (label: string, values: number[]) =>
    `${label}: median ${median(values).toFixed(0)} ms, min ${Math.min(...values).toFixed(0)}, max ${Math.max(...values).toFixed(0)} (${values.map((v) => v.toFixed(0)).join(', ')})`;
  process.stdout.write(`${pushes} pushes, 3 gateways (1 worker each), etcd ${etcd.endpoint}\n`);
  process.stdout.write(`${show('push start to the last gateway applied', fromPush)}\n`);
  process.stdout.write(`${show('etcd commit to the last gateway applied', fromCommit)}\n`);
} finally {
  await Promise.all(gateways.map((g) => g.serve?.stop()));
  origin.close();
  await etcd.close();
  rmSync(dir, { recursive: true, force: true });
}
