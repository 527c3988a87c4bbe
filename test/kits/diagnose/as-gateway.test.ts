/**
 * A direct probe writes the head the gateway writes: `diagnose --compare` sends the same request
 * as a plain client through a real gateway and, as the gateway, straight to the upstream; a raw
 * TCP upstream captures both heads byte for byte. Only the values that are new for every request
 * by nature may differ.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { VERSION } from '../../../src/core/version.ts';
import { diagnose } from '../../../src/kits/diagnose/diagnose.ts';
import { closeAll } from '../../helpers/keep.ts';
import { singleUpstream, startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

/**
 * Fields whose values are per request by nature: the gateway makes a fresh id and trace for each
 * request it forwards, and so does the probe. Their names and places in the head must still match.
 * X-Forwarded-For and Via are not here: both sides connect from 127.0.0.1 as "edge-1".
 */
const PER_REQUEST = ['x-request-id', 'traceparent'];

/** Every request head that reached the upstream, as received (latin1), in arrival order. */
const heads: string[] = [];
const sockets = new Set<Socket>();
let upstream: Server;
let upstreamUrl: string;
let gw: TestGateway;

before(async () => {
  upstream = createServer((socket) => {
    sockets.add(socket);
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      for (let end = buffered.indexOf('\r\n\r\n'); end !== -1; end = buffered.indexOf('\r\n\r\n')) {
        heads.push(buffered.slice(0, end + 4));
        buffered = buffered.slice(end + 4);
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const address = upstream.address();
  assert.ok(address !== null && typeof address === 'object');
  upstreamUrl = `http://127.0.0.1:${address.port}`;
  gw = await startTestGateway(singleUpstream(upstreamUrl));
});

after(async () => {
  // The upstream's connections first: node:net's close() waits for them.
  for (const socket of sockets) socket.destroy();
  await closeAll(gw, upstream);
});

/** The head with each per-request field's value replaced by its name in capitals. */
function masked(head: string): string {
  return head.replace(/^([^:\r\n]+): [^\r\n]*$/gm, (line, name: string) =>
    PER_REQUEST.includes(name.toLowerCase()) ? `${name}: <${name.toUpperCase()}>` : line,
  );
}

/** Runs diagnose direct (as the gateway) and through the gateway (as a plain client); returns both heads. */
async function bothHeads(
  method: string,
  headers: Array<[string, string]>,
): Promise<{ gateway: string; probe: string; plainFields: ReadonlyArray<readonly [string, string]> }> {
  heads.length = 0;
  const report = await diagnose({
    target: `${upstreamUrl}/orders/42?x=1`,
    config: gw.gateway.runtime().config,
    via: gw.url,
    host: 'shop.example',
    method,
    headers,
  });
  assert.equal(report.targets[0].verdict.outcome, 'ok');
  assert.equal(report.via?.verdict.outcome, 'ok');
  assert.equal(heads.length, 2, `two heads reached the upstream: ${JSON.stringify(heads)}`);
  const probe = heads.find((head) => /^x-request-id: diagnose-/im.test(head));
  const gateway = heads.find((head) => head !== probe);
  assert.ok(probe !== undefined && gateway !== undefined, JSON.stringify(heads));
  const plain = report.via?.steps.find((step) => step.step === 'request');
  assert.ok(plain?.step === 'request');
  return { gateway, probe, plainFields: plain.facts.headers };
}

test('GET with extra fields: the probe writes the gateway head, hop-by-hop and untrusted forwarding fields gone', async () => {
  const { gateway, probe, plainFields } = await bothHeads('GET', [
    ['X-Custom', 'a b'],
    ['Connection', 'x-hop'],
    ['X-Hop', '1'],
    ['X-Forwarded-For', '10.9.9.9'],
    ['Accept-Encoding', 'gzip'],
  ]);
  assert.equal(masked(probe), masked(gateway));
  assert.match(gateway, /^GET \/orders\/42\?x=1 HTTP\/1\.1\r\nhost: shop\.example\r\n/);
  assert.doesNotMatch(gateway, /x-hop|10\.9\.9\.9|keep-alive/i);
  // The plain client sent its fields and nothing of the gateway's, nor a Connection of its own.
  assert.deepEqual(plainFields, [
    ['host', 'shop.example'],
    ['user-agent', `candor-diagnose/${VERSION}`],
    ['accept', '*/*'],
    ['X-Custom', 'a b'],
    ['Connection', 'x-hop'],
    ['X-Hop', '1'],
    ['X-Forwarded-For', '10.9.9.9'],
    ['Accept-Encoding', 'gzip'],
  ]);
});

test('a body-less POST: the Content-Length 0 a client owes sits where the gateway keeps it', async () => {
  const { gateway, probe, plainFields } = await bothHeads('POST', []);
  assert.equal(masked(probe), masked(gateway));
  assert.equal(gateway.match(/^content-length: 0\r$/gim)?.length, 1);
  assert.deepEqual(
    plainFields.map(([name]) => name),
    ['host', 'user-agent', 'accept', 'content-length'],
  );
});
