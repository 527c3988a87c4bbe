/**
 * One request to an ACME server (acme-http.ts), against a real HTTPS server that misbehaves:
 * its time bound is the request's whole life, so a CA that answers a byte at a time cannot
 * hold an order (and the ordering loop behind it) for longer.
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { acmeRequest } from '../../../src/server/acme/acme-http.ts';

test('a CA that drips its answer a byte at a time is cut at the time bound, not kept alive by each byte', {
  timeout: 20_000,
}, async () => {
  const certs = testCertificates();
  const drips = new Set<NodeJS.Timeout>();
  const server = https.createServer({ cert: certs.localhost.cert, key: certs.localhost.key }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const drip = setInterval(() => res.write(' '), 50);
    drips.add(drip);
    res.on('close', () => {
      clearInterval(drip);
      drips.delete(drip);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    await assert.rejects(
      acmeRequest('GET', `https://localhost:${port}/directory`, { ca: certs.ca, timeoutMs: 500 }),
      /no answer from https:\/\/localhost:\d+\/directory within 500 ms/,
    );
  } finally {
    for (const drip of drips) clearInterval(drip);
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});
