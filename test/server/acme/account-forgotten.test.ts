/**
 * A CA that no longer knows the account (its data lost, the account removed there): the order
 * it refuses is told with its problem, and the next one finds or makes the account again, with
 * the same key, instead of naming the forgotten account's URL for good (every renewal failing
 * until a restart). Against a real CA: pebble, started again on its ports, knowing nothing.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { AcmeClient } from '../../../src/server/acme/acme-client.ts';
import { type ChallengeSolver, orderCertificate } from '../../../src/server/acme/acme-order.ts';
import { AcmeProblem } from '../../../src/server/acme/acme-problem.ts';
import { type Pebble, startPebble } from '../../helpers/pebble.ts';

const tokens = new Map<string, string>();
let httpServer: http.Server;
let pebble: Pebble;

before(async () => {
  httpServer = http.createServer((req, res) => {
    const answer = tokens.get(req.url?.replace('/.well-known/acme-challenge/', '') ?? '');
    res.writeHead(answer ? 200 : 404).end(answer ?? 'no such token');
  });
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  // No nonce refused: the restarted CA's first answers are the ones under test.
  pebble = await startPebble({
    httpPort: (httpServer.address() as AddressInfo).port,
    tlsPort: 1,
    nonceReject: 0,
  });
});

after(async () => {
  await pebble?.stop();
  httpServer?.close();
});

const solver: ChallengeSolver = {
  async present(_type, _name, token, keyAuthorization) {
    tokens.set(token, keyAuthorization);
  },
  async cleanup(_type, _name, token) {
    tokens.delete(token);
  },
};

async function order(client: AcmeClient, name: string): Promise<X509Certificate> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const chain = await orderCertificate(client, solver, {
    names: [name],
    certificateKey: privateKey,
    challenges: ['http-01'],
    deadline: performance.now() + 60_000,
  });
  return new X509Certificate(chain);
}

test('an account the CA no longer knows fails one order with its problem; the next makes it again and is issued', {
  timeout: 90_000,
}, async () => {
  const { privateKey: accountKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const client = new AcmeClient(pebble.directory, accountKey, { ca: pebble.ca, timeoutMs: 10_000 });
  assert.equal((await order(client, 'first.shop.test')).subjectAltName, 'DNS:first.shop.test');

  await pebble.restart();
  const refused = await order(client, 'second.shop.test').then(
    () => assert.fail('the CA forgot the account: the order cannot go through on its URL'),
    (err: unknown) => err,
  );
  assert.ok(refused instanceof AcmeProblem, `refused for another reason: ${String(refused)}`);
  assert.equal(refused.type, 'urn:ietf:params:acme:error:accountDoesNotExist');

  assert.equal((await order(client, 'second.shop.test')).subjectAltName, 'DNS:second.shop.test');
});
