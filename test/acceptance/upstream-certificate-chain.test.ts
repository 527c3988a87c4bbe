/**
 * A TLS upstream whose certificate chain breaks a rule of the CA that signed it: the gateway's
 * 502 is tls_certificate_error (DESIGN.md's row "bad certificate"), whatever check of the chain
 * refused it, never tls_protocol_error (a handshake that went wrong), and nothing reaches it.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { assertGatewayError, onlyLogLine } from '../helpers/gateway-error.ts';
import { request } from '../helpers/http-client.ts';
import { makeChain } from '../helpers/openssl-chain.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { singleUpstream, startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';

const dir = tempDir('candor-chain-');
let server: https.Server;
let gw: TestGateway;
const received: string[] = [];

before(async () => {
  const { root, chain, key } = makeChain(dir, { rootPathLength: 0 });
  server = https.createServer({ cert: chain, key }, (req, res) => {
    received.push(req.url ?? '');
    res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  gw = await startTestGateway(
    singleUpstream(`https://localhost:${port}`, { upstream: `    tls: { ca: ${root} }\n` }),
  );
});

after(async () => {
  await gw?.close();
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

test('a chain longer than its root CA allows (PATH_LENGTH_EXCEEDED): 502 tls_certificate_error, nothing sent', async () => {
  const res = await request(gw.url, { path: '/orders', headers: { accept: 'application/json' } });
  const id = assertGatewayError(res, {
    status: 502,
    error: 'tls_certificate_error',
    details:
      /^certificate rejected: its chain is longer than its CA's path length allows \(PATH_LENGTH_EXCEEDED\) after [\d.]+ ms$/,
    nextHop: 'app',
    retryAfter: null,
    format: 'problem+json',
  });
  assert.deepEqual(received, [], 'no request reached it');
  const line = await onlyLogLine(gw, id);
  assert.equal(line.error, 'tls_certificate_error');
  assert.equal(line.shape, 'unreachable');
  assert.equal(line.stage, 'not_sent');
  assert.equal(line.upstream, 'app');
});
