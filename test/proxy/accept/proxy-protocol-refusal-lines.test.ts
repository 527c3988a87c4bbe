/**
 * The `PROXY protocol: connection refused` lines are at most one a second, the last refusal
 * told with how many came since: sources in `proxy_protocol.from` (the balancers: a refusal of
 * theirs is a misconfigured or broken balancer, every client behind it cut) are told apart from
 * the others (anyone on the network), as failed TLS handshakes are told by reason, so a stream
 * of strangers' headers does not hide, within each second, the balancer's own refusal and why.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { closeAfterAll } from '../../helpers/keep.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { singleUpstream, startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const keep = closeAfterAll();

const refusals = (gw: TestGateway) => gw.logs.filter((l) => l.msg === 'PROXY protocol: connection refused');

/** Writes `bytes` from `localAddress` and resolves once the gateway has closed the connection. */
function refusedFrom(port: number, localAddress: string, bytes: string): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress }, () => socket.write(bytes));
    socket.on('error', () => {});
    socket.on('close', () => resolve());
    socket.resume();
  });
}

test("a balancer's refused header is told though strangers' headers are refused around it", async () => {
  const app = await keep(listenOnLoopback((_req, res) => res.end('ok')));
  const gw = await keep(
    startTestGateway(singleUpstream(app.url), {}, 'proxy_protocol: { from: [127.0.0.2] }'),
  );
  const stranger = 'PROXY TCP4 203.0.113.7 10.0.0.1 56324 443\r\n';
  await refusedFrom(gw.port, '127.0.0.1', stranger);
  await waitUntil('the first refusal told', () => refusals(gw).length === 1);
  // The balancer's header is malformed (a port past 65535), then a stranger's comes again.
  await refusedFrom(gw.port, '127.0.0.2', 'PROXY TCP4 203.0.113.8 10.0.0.1 65536 443\r\n');
  await refusedFrom(gw.port, '127.0.0.1', stranger);
  await waitUntil(
    "the balancer's refusal told",
    () => refusals(gw).some((l) => l.client === '127.0.0.2'),
    4000,
  );
  const line = refusals(gw).find((l) => l.client === '127.0.0.2');
  assert.equal(line?.reason, 'invalid PROXY header: v1 header with an invalid port');
  assert.equal(line?.refused, 1);
});

test('refusals held for the next second are told when the gateway closes, not lost with its timer', async () => {
  const app = await keep(listenOnLoopback((_req, res) => res.end('ok')));
  const gw = await startTestGateway(singleUpstream(app.url), {}, 'proxy_protocol: { from: [127.0.0.2] }');
  const stranger = 'PROXY TCP4 203.0.113.7 10.0.0.1 56324 443\r\n';
  for (let i = 0; i < 3; i++) await refusedFrom(gw.port, '127.0.0.1', stranger);
  // The first is told at once; the two after it wait for the next second's line, which the close
  // comes before.
  await gw.close();
  assert.deepEqual(
    refusals(gw).map((l) => l.refused),
    [1, 2],
  );
});
