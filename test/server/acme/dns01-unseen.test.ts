/**
 * A DNS-01 record the primary took (NOERROR) that no authoritative server ever returns: the
 * order fails `candor:dns-propagation` naming, for each server, why it was not seen, read from
 * the server's last answer. Debian's Knot DNS holds example.test; `knsupdate` (signed with the
 * same key) gives it the shapes an operator's zone has: `_acme-challenge.cn` an alias (CNAME) of
 * another zone's name, beside which Knot drops the added TXT record (RFC 2136 §3.4.2.2), and
 * `sub` delegated to servers of its own, below which the record is added to a zone nobody asks.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import net, { type AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { Dns01Solver } from '../../../src/server/acme/dns01-solver.ts';
import { closeAll } from '../../helpers/keep.ts';
import { type Knot, startKnot } from '../../helpers/knot.ts';

let knot: Knot;
const servers: net.Server[] = [];

before(async () => {
  knot = await startKnot('example.test');
  execFileSync('knsupdate', ['-y', `hmac-sha256:${knot.keyName}:${knot.secret}`], {
    input: `server 127.0.0.1 ${knot.port}
zone example.test.
update add _acme-challenge.cn.example.test. 60 CNAME _acme-challenge.cn.other.test.
update add sub.example.test. 60 NS ns.sub.example.test.
update add ns.sub.example.test. 60 A 127.0.0.2
send
`,
    timeout: 10_000,
  });
  process.env.CANDOR_TEST_TSIG_UNSEEN = knot.secret;
});

after(async () => {
  await closeAll(...servers);
  await knot?.stop();
});

function solver(nameservers = [{ address: knot.address, host: '127.0.0.1', port: knot.port }]) {
  const warnings: string[] = [];
  const config = {
    server: { address: knot.address, host: '127.0.0.1', port: knot.port },
    zone: 'example.test',
    tsig: { name: knot.keyName, algorithm: 'hmac-sha256' as const, secretEnv: 'CANDOR_TEST_TSIG_UNSEEN' },
    nameservers,
    propagationTimeout: 1_000,
  };
  const log = { info: () => {}, warn: (_: object, message: string) => warnings.push(message) };
  return { solver: new Dns01Solver(config, log), warnings };
}

test('an _acme-challenge name that is an alias (CNAME) of another: the record is never seen, and the CNAME is named as why', {
  timeout: 30_000,
}, async () => {
  const { solver: s } = solver();
  const detail = await s.present('cn.example.test', 'ka').then(
    () => 'seen',
    (err: { type: string; detail: string }) => `${err.type}: ${err.detail}`,
  );
  await s.cleanup('cn.example.test');
  assert.equal(
    detail,
    `candor:dns-propagation: _acme-challenge.cn.example.test TXT was not seen at ${knot.address} (it answers that the name is an alias (CNAME) of _acme-challenge.cn.other.test, beside which a TXT record is not kept: the CA follows the alias out of acme.dns01.zone example.test) within 1 s of its update: the CA was not asked`,
  );
});

test('a name below a zone cut: the record goes into example.test where nobody asks, and the referral is named as why', {
  timeout: 30_000,
}, async () => {
  const { solver: s } = solver();
  const detail = await s.present('a.sub.example.test', 'ka').then(
    () => 'seen',
    (err: { type: string; detail: string }) => `${err.type}: ${err.detail}`,
  );
  await s.cleanup('a.sub.example.test');
  assert.equal(
    detail,
    `candor:dns-propagation: _acme-challenge.a.sub.example.test TXT was not seen at ${knot.address} (it answers with a referral to the servers of sub.example.test: the name is in that zone, not in acme.dns01.zone example.test) within 1 s of its update: the CA was not asked`,
  );
});

test('a server listed in nameservers that refuses the question (not a server of the zone) is told with its rcode', {
  timeout: 30_000,
}, async () => {
  // A server of another zone: it answers every question REFUSED.
  const refusing = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', (chunk: Buffer) => {
      const head = Buffer.from(chunk.subarray(2, 14));
      head.writeUInt16BE(0x8005, 2);
      head.writeUInt16BE(0, 4);
      const length = Buffer.alloc(2);
      length.writeUInt16BE(12, 0);
      socket.end(Buffer.concat([length, head]));
    });
  });
  servers.push(refusing);
  await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
  const port = (refusing.address() as AddressInfo).port;
  const { solver: s } = solver([{ address: `127.0.0.1:${port}`, host: '127.0.0.1', port }]);
  const detail = await s.present('example.test', 'ka').then(
    () => 'seen',
    (err: { type: string; detail: string }) => `${err.type}: ${err.detail}`,
  );
  await s.cleanup('example.test');
  assert.equal(
    detail,
    `candor:dns-propagation: _acme-challenge.example.test TXT was not seen at 127.0.0.1:${port} (it answers REFUSED) within 1 s of its update: the CA was not asked`,
  );
});
