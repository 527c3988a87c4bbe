/**
 * The DNS-01 client's hops on real sockets: Knot DNS as the zone's primary (its NS found and
 * resolved as the default `nameservers`), and DNS servers made to misbehave: one that answers an
 * update without signing it, one that closes without answering, one that never answers.
 */
import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { dnsExchange } from '../../../src/server/acme/dns-exchange.ts';
import { updateTxt } from '../../../src/server/acme/dns-update.ts';
import { zoneNameservers } from '../../../src/server/acme/dns01-solver.ts';
import { closeAll } from '../../helpers/keep.ts';
import { type Knot, startKnot } from '../../helpers/knot.ts';

let knot: Knot;
const servers: net.Server[] = [];

before(async () => {
  knot = await startKnot('example.test');
});

after(async () => {
  await closeAll(...servers);
  await knot?.stop();
});

/** A TCP DNS server that does `answer` with each message it reads. */
async function misbehaving(answer: (socket: net.Socket, message: Buffer) => void): Promise<number> {
  const server = net.createServer((socket) => {
    let received = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 2 && received.length - 2 >= received.readUInt16BE(0))
        answer(socket, received.subarray(2, 2 + received.readUInt16BE(0)));
    });
    socket.on('error', () => {});
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

const change = (port: number) => ({
  server: { host: '127.0.0.1', port },
  zone: 'example.test',
  key: { name: 'candor-key', algorithm: 'hmac-sha256' as const, secret: Buffer.alloc(32, 1) },
  name: '_acme-challenge.example.test',
  value: 'x'.repeat(43),
});

test("the zone's authoritative servers by default: its NS at the primary, each name's address there, port 53", async () => {
  const config = {
    server: { address: knot.address, host: '127.0.0.1', port: knot.port },
    zone: 'example.test',
    tsig: { name: knot.keyName, algorithm: 'hmac-sha256' as const, secretEnv: 'UNUSED' },
    propagationTimeout: 1_000,
  };
  assert.deepEqual(await zoneNameservers(config), [{ host: '127.0.0.1', port: 53 }]);
});

/** Answers an update with its own header (QR set, opcode UPDATE, this rcode) and zone section, unsigned. */
function unsignedAnswer(rcode: number) {
  return (socket: net.Socket, message: Buffer) => {
    const head = Buffer.from(message.subarray(0, 12));
    head.writeUInt16BE(0xa800 | rcode, 2);
    head.writeUInt16BE(0, 6);
    head.writeUInt16BE(0, 8);
    head.writeUInt16BE(0, 10);
    const zone = message.subarray(12, 12 + 'example.test'.length + 2 + 4);
    const answer = Buffer.concat([head, zone]);
    const length = Buffer.alloc(2);
    length.writeUInt16BE(answer.length, 0);
    socket.end(Buffer.concat([length, answer]));
  };
}

test('an update refused by a server that does not sign its refusal is told with its rcode', async () => {
  const port = await misbehaving(unsignedAnswer(5));
  await assert.rejects(updateTxt(change(port), 'add'), {
    type: 'candor:dns-refused',
    detail: `the DNS server 127.0.0.1:${port} refused the addition of _acme-challenge.example.test TXT in zone example.test: REFUSED`,
  });
});

test('an update answered NOERROR without the TSIG of its key is not believed: the answer is told as a bad one', async () => {
  const port = await misbehaving(unsignedAnswer(0));
  await assert.rejects(updateTxt(change(port), 'add'), {
    type: 'candor:dns-bad-answer',
    detail: `the DNS server 127.0.0.1:${port}: its answer to the addition of _acme-challenge.example.test TXT in zone example.test is not signed with the key candor-key`,
  });
});

test('a DNS server that closes without answering, and one that never answers, are told as such', async () => {
  const closing = await misbehaving((socket) => socket.end());
  await assert.rejects(updateTxt(change(closing), 'add'), {
    type: 'candor:dns-bad-answer',
    detail: `the DNS server 127.0.0.1:${closing}: the connection was closed before a whole answer`,
  });
  const silent = await misbehaving(() => {});
  await assert.rejects(dnsExchange({ host: '127.0.0.1', port: silent }, Buffer.alloc(12), undefined, 300), {
    type: 'candor:dns-timeout',
    detail: `the DNS server 127.0.0.1:${silent} did not answer within 0.3 s`,
  });
});
