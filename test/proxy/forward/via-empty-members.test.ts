/**
 * This hop's Via entry is appended to the received Via without empty list members, both ways:
 * RFC 9110 §5.6.1.1 says a sender MUST NOT generate them, and an empty `Via` line beside
 * another, or a line ending in a comma, joined as it came made `Via: , 1.1 cdn, 1.1 edge-test`.
 * A comma inside a comment (`(a, b)`) is no member's end and stays as it came.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { rawRequest } from '../../helpers/http-client.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const keep = closeAfterAll();
// The upstream's answer carries its own Via as two lines: an empty one, and one ending in a comma.
const upstream = await keep(
  startRawFault(async (connection) => {
    await connection.nextRequest();
    await connection.end(
      'HTTP/1.1 200 OK\r\nVia: \r\nVia: 1.0 app-proxy (Squid, 6),\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok',
    );
  }),
);
const gw = await keep(
  startTestGateway(`name: edge-test
routes: [{ upstream: app }]
upstreams:
  app: { targets: [{ url: "${upstream.url}" }] }
`),
);

const viaLines = (raw: string) => [...raw.matchAll(/\r\nvia: ?([^\r]*)/gi)].map((m) => m[1]);

test('an empty Via line and a trailing comma make no empty member in the Via sent either way', async () => {
  const answer = await rawRequest(
    gw.port,
    'GET /page HTTP/1.1\r\nHost: x\r\nVia: \r\nVia: 1.1 cdn (edge, eu),\r\nVia: , 1.1 lb\r\nConnection: close\r\n\r\n',
  );
  assert.equal(answer.status, 200);
  const seen = await upstream.waitForRequest(1);
  const sent = seen.rawHeaders.filter(([name]) => name.toLowerCase() === 'via').map(([, value]) => value);
  assert.deepEqual(sent, ['1.1 cdn (edge, eu), 1.1 lb, 1.1 edge-test']);
  assert.deepEqual(viaLines(answer.raw), ['1.0 app-proxy (Squid, 6), 1.1 edge-test']);
});

test('a Via of this hop alone where the received one held nothing but empty members', async () => {
  const answer = await rawRequest(
    gw.port,
    'GET /page HTTP/1.1\r\nHost: x\r\nVia: ,\r\nConnection: close\r\n\r\n',
  );
  assert.equal(answer.status, 200);
  const seen = await upstream.waitForRequest(2);
  const sent = seen.rawHeaders.filter(([name]) => name.toLowerCase() === 'via').map(([, value]) => value);
  assert.deepEqual(sent, ['1.1 edge-test']);
});
