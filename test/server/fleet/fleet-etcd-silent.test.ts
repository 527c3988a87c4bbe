/**
 * etcd that stops talking without closing, against one `candor serve` gateway: a member frozen
 * (SIGSTOP: alive, its connections open, silent) is found by the gateway's lease renewal, which
 * opens the watch again, and said (source unreachable since …); thawed, it is said reachable and
 * a push is taken. An endpoint whose watch stream sends what is not etcd's JSON is a lost watch,
 * said so, never the gateway's end.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { gatewaysPrefix } from '../../../src/server/fleet/fleet-keys.ts';
import { EtcdClient } from '../../../src/upstream/config-source/etcd-client.ts';
import { type EtcdProcess, startEtcd } from '../../helpers/etcd-server.ts';
import {
  answersWith,
  FLEET_KEY,
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

const dir = tempDir('candor-fleet-silent-');
let etcd: EtcdProcess;
const origins = new NamedOrigins();

before(async () => {
  etcd = await startEtcd();
  await origins.start(['one', 'two', 'three']);
});
after(async () => {
  etcd?.thaw();
  await closeAll(etcd, ...origins.servers);
  rmSync(dir, { recursive: true, force: true });
});

const push = (gateway: FleetGateway, name: string) => pushDocument(gateway, dir, name, origins.url[name]);

/** Waits (`ms` at most) until the gateway's `config.etcd.summary` matches. */
async function summarySays(gateway: FleetGateway, pattern: RegExp, ms = 20_000): Promise<void> {
  let summary = '';
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && !pattern.test(summary)) {
    summary = String((await sourceOf(gateway)).summary);
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.match(summary, pattern);
}

test('a frozen etcd is said unreachable (the lease renewal finds it; the watch alone never would); thawed, reachable again and a push is taken', async () => {
  const gateway = await fleetBootstrap(dir, 'edge-frozen', [etcd.endpoint]);
  await push(gateway, 'one');
  await serveGateway(gateway);
  try {
    await answersWith(gateway, 'one');
    await summarySays(gateway, /^etcd reachable, running revision \d+$/);
    await etcd.freeze();
    await summarySays(gateway, /^source unreachable since \S+, running revision \d+$/);
    const lost = gateway.serve?.lines.find((l) => String(l.msg).startsWith('config source unreachable'));
    assert.match(
      String(lost?.why),
      /^the lease's renewal failed: etcd unreachable \(.*no answer in \d+ ms\)$/,
    );
    await answersWith(gateway, 'one');
    etcd.thaw();
    await summarySays(gateway, /^etcd reachable, running revision \d+$/);
    await push(gateway, 'two');
    await answersWith(gateway, 'two');
  } finally {
    etcd.thaw();
    await gateway.serve?.stop();
  }
});

test("an endpoint whose watch sends a line that is not etcd's JSON: the watch is lost and said so, the gateway serves on", async () => {
  // A relay to etcd answering its watch with a created line, then garbage: what a proxy or a
  // corrupted frame in front of etcd makes of the stream.
  const target = new URL(etcd.endpoint);
  const relay = http.createServer((req, res) => {
    if (req.url === '/v3/watch') {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"result":{"header":{"revision":"1"},"created":true}}\n');
      setTimeout(() => res.write('<html>502 Bad Gateway</html>\n'), 300);
      return;
    }
    const forward = http.request(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  const gateway = await fleetBootstrap(dir, 'edge-garbage', [
    `http://127.0.0.1:${(relay.address() as { port: number }).port}`,
  ]);
  await push(gateway, 'three');
  await serveGateway(gateway);
  try {
    await answersWith(gateway, 'three');
    await summarySays(gateway, /^source unreachable since \S+, running revision \d+$/);
    const lost = gateway.serve?.lines.find((l) => String(l.msg).startsWith('config source unreachable'));
    assert.equal(
      lost?.why,
      'etcd\'s watch stream sent a line that is not a JSON object: "<html>502 Bad Gateway</html>"',
    );
    // Still serving, a while after: the primary did not end.
    await new Promise((r) => setTimeout(r, 1000));
    await answersWith(gateway, 'three');
  } finally {
    await gateway.serve?.stop();
    relay.closeAllConnections();
    await new Promise((resolve) => relay.close(resolve));
  }
});

test('a gateway that begins its drain leaves the fleet at once, its request in flight still answered', async () => {
  // An origin that answers a second after it is asked: the request in flight during the drain.
  const slow = http.createServer((_req, res) => setTimeout(() => res.end('slow'), 3000));
  await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
  origins.url.slow = `http://127.0.0.1:${(slow.address() as { port: number }).port}`;
  const gateway = await fleetBootstrap(dir, 'edge-draining', [etcd.endpoint]);
  await push(gateway, 'slow');
  await serveGateway(gateway);
  const client = new EtcdClient({ endpoints: [etcd.endpoint] });
  const listed = async () =>
    (await client.range(gatewaysPrefix(FLEET_KEY), { prefix: true })).kvs.some((kv) =>
      kv.key.endsWith('/edge-draining'),
    );
  try {
    // Its record is written once it serves (a write after its start): waited for.
    for (let tries = 0; tries < 200 && !(await listed()); tries++)
      await new Promise((r) => setTimeout(r, 50));
    assert.equal(await listed(), true);
    const inFlight = request(`http://127.0.0.1:${gateway.serve?.port}`, { path: '/', timeoutMs: 20_000 });
    let answeredYet = false;
    void inFlight.finally(() => {
      answeredYet = true;
    });
    await new Promise((r) => setTimeout(r, 200));
    gateway.serve?.child.kill('SIGTERM');
    await gateway.serve?.waitForLines('draining: not ready', 1);
    // Gone while the request is still in flight: the drain's start, not its end, took it out.
    let gone = false;
    while (!gone && !answeredYet) {
      gone = !(await listed());
      if (!gone) await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual([gone, answeredYet], [true, false], 'its record is gone while it drains');
    const answered = await inFlight;
    assert.equal(answered.text, 'slow');
  } finally {
    await gateway.serve?.stop();
    slow.close();
  }
});
