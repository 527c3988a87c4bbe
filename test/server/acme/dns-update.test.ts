/**
 * The DNS-01 client's hops on real sockets: Knot DNS as the zone's primary (its NS found and
 * resolved as the default `nameservers`), and DNS servers made to misbehave: one that answers an
 * update without signing it, one that closes without answering, one that never answers.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import net, { type AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { dns01Step } from '../../../src/server/acme/diagnose-dns01.ts';
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

test("a clock more than the TSIG fudge (300 s) from the server's: BADTIME, and candor diagnose's fix is the clock, not the key", {
  timeout: 30_000,
}, async () => {
  process.env.CANDOR_TEST_TSIG_CLOCK = knot.secret;
  const config = {
    server: { address: knot.address, host: '127.0.0.1', port: knot.port },
    zone: 'example.test',
    tsig: { name: knot.keyName, algorithm: 'hmac-sha256' as const, secretEnv: 'CANDOR_TEST_TSIG_CLOCK' },
    nameservers: [{ host: '127.0.0.1', port: knot.port }],
    propagationTimeout: 1_000,
  };
  // This process's clock 400 s behind Knot's (the host's), as a gateway's without NTP drifts.
  const now = Date.now;
  Date.now = () => now() - 400_000;
  let result: Awaited<ReturnType<typeof dns01Step>>;
  try {
    result = await dns01Step(config, '*.example.test');
  } finally {
    Date.now = now;
  }
  assert.deepEqual(result.step.notes, [
    `the DNS server ${knot.address} refused the addition of _acme-challenge.example.test TXT in zone example.test: NOTAUTH (TSIG BADTIME)`,
  ]);
  assert.equal(
    result.fix,
    "this host's clock and the DNS server's are more than 5 minutes apart (TSIG's fudge, RFC 8945 §5.2.3): set both by NTP",
  );
});

/** A server's answer to an update, NOERROR, signed with `secret` at `timeSigned` (RFC 8945 §5.3: over the request's MAC, the answer, the variables). */
function signedAnswer(request: Buffer, secret: Buffer, timeSigned: number): Buffer {
  const name = (text: string) =>
    Buffer.concat([
      ...text.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])),
      Buffer.from([0]),
    ]);
  const zoneEnd = 12 + name('example.test').length + 4;
  const answer = Buffer.concat([Buffer.from(request.subarray(0, 12)), request.subarray(12, zoneEnd)]);
  answer.writeUInt16BE(0xa800, 2);
  answer.writeUInt16BE(0, 8);
  answer.writeUInt16BE(0, 10);
  const macAt = request.lastIndexOf(Buffer.from('hmac-sha256')) + 'hmac-sha256'.length + 1 + 8;
  const requestMac = request.subarray(macAt, macAt + 2 + request.readUInt16BE(macAt));
  const time = Buffer.alloc(8);
  time.writeUIntBE(timeSigned, 0, 6);
  time.writeUInt16BE(300, 6);
  const variables = Buffer.concat([
    name('candor-key'),
    Buffer.from([0, 255, 0, 0, 0, 0]),
    name('hmac-sha256'),
    time,
    Buffer.alloc(4),
  ]);
  const mac = createHmac('sha256', secret)
    .update(Buffer.concat([requestMac, answer, variables]))
    .digest();
  const data = Buffer.concat([
    name('hmac-sha256'),
    time,
    Buffer.from([0, mac.length]),
    mac,
    request.subarray(0, 2),
    Buffer.alloc(4),
  ]);
  const fixed = Buffer.from([0, 250, 0, 255, 0, 0, 0, 0, data.length >> 8, data.length & 0xff]);
  const signed = Buffer.concat([answer, name('candor-key'), fixed, data]);
  signed.writeUInt16BE(1, 10);
  return signed;
}

test("an answer whose MAC is the key's but signed outside its fudge (a replay) is not believed, and told as late, not as another MAC", async () => {
  const late = await misbehaving((socket, message) => {
    const answer = signedAnswer(message, Buffer.alloc(32, 1), Math.floor(Date.now() / 1000) - 1000);
    const length = Buffer.alloc(2);
    length.writeUInt16BE(answer.length, 0);
    socket.end(Buffer.concat([length, answer]));
  });
  // 1000 s, or 1001 when this host's second turned between the server's signing and the check.
  await assert.rejects(updateTxt(change(late), 'add'), {
    type: 'candor:dns-bad-answer',
    detail: new RegExp(
      `^the DNS server 127\\.0\\.0\\.1:${late}: its answer to the addition of _acme-challenge\\.example\\.test TXT in zone example\\.test is not signed with the key candor-key \\(signed 100[01] s before this host's clock, past its fudge of 300 s: a replay, or clocks apart\\)$`,
    ),
  });
});
