/**
 * A JWKS endpoint that breaks is told by the same types as an upstream would be: an answer that
 * is not HTTP at all (another service on its port) is garbage, 502 http_protocol_error naming the
 * hop, never connection_terminated (the connection did not break: an answer came); a key set cut
 * after its head is http_response_incomplete, never "before the response head"; one that does
 * not decode as its Content-Encoding says is garbage too, never a connection lost; one no connection
 * reaches in time is a connect timeout, never a response timeout.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startSshBanner } from '../../../src/kits/fault-kit/garbage-faults.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { readRequest, startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { startUnaccepting } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

/** A well-formed RS256 token, good till 2100 (its claims refuse nothing), whose key set must be fetched: its signature no key checks. */
const TOKEN = [
  Buffer.from('{"alg":"RS256","kid":"k1"}').toString('base64url'),
  Buffer.from('{"sub":"x","exp":4102444800}').toString('base64url'),
  'c2ln',
].join('.');

/**
 * Asks `/orders` with TOKEN (request id `id`) through a gateway whose route takes its keys from
 * the endpoint `jwks`, and asserts the hop's `status` (502 unless told) of `type`, its details
 * matching `details`, the log's `auth`, and nothing upstream.
 */
async function assertHopFails(
  jwks: { url: string; port: number },
  id: string,
  type: string,
  details: string,
  status = 502,
) {
  const echo = await startEcho();
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: /orders }
    upstream: app
    auth:
      jwt:
        jwks_url: ${jwks.url}/jwks.json
upstreams:
  app:
    targets: [{ url: "${echo.url}" }]
`);
  try {
    const res = await request(gw.url, {
      path: '/orders',
      headers: { authorization: `Bearer ${TOKEN}`, 'x-request-id': id },
    });
    assert.equal(res.status, status);
    assert.match(
      res.headers['proxy-status'] as string,
      new RegExp(`^edge-1; error=${type}; details="the JWKS endpoint: ${details}"; next-hop="auth:jwks"$`),
    );
    assert.equal((await gw.logFor(id)).auth, `failed: ${type}`);
    assert.equal(echo.received.length, 0);
  } finally {
    await gw.close();
    await echo.close();
  }
}

test('a JWKS endpoint that answers an SSH banner is the hop’s 502 http_protocol_error', async () => {
  const ssh = await startSshBanner();
  try {
    await assertHopFails(ssh, 'jwks-ssh', 'http_protocol_error', '[^"]*');
  } finally {
    await ssh.close();
  }
});

test('a JWKS endpoint no connection reaches is the hop’s 504 connection_timeout: its request was never sent, so no answer was waited for', async () => {
  const unaccepting = await startUnaccepting();
  try {
    await assertHopFails(
      unaccepting,
      'jwks-unaccepting',
      'connection_timeout',
      'no connection within 5 s \\(the TCP connect or the TLS handshake did not finish\\)',
      504,
    );
  } finally {
    await unaccepting.close();
  }
});

for (const [how, end] of [
  ['closes', 'connection closed by the upstream'],
  ['resets', 'connection reset \\(ECONNRESET\\)'],
] as const) {
  test(`a JWKS endpoint that ${how} its connection mid key set: the hop's 502 http_response_incomplete, not "before the response head"`, async () => {
    const jwks = await startRawFault(async (connection) => {
      await readRequest(connection);
      await connection.write(
        'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"keys":[',
      );
      if (how === 'resets') await connection.reset();
      else await connection.end();
    });
    try {
      await assertHopFails(
        jwks,
        `jwks-cut-${how}`,
        'http_response_incomplete',
        `response body cut short: ${end} after [\\d.]+ ms`,
      );
    } finally {
      await jwks.close();
    }
  });
}

for (const [coding, code] of [
  ['gzip', 'Z_DATA_ERROR'],
  ['br', 'ERR__ERROR_FORMAT_PADDING_2'],
] as const) {
  test(`a JWKS endpoint whose key set does not decode as its Content-Encoding ${coding} says is the hop's 502 http_protocol_error, not a connection lost`, async () => {
    const jwks = await startRawFault(async (connection) => {
      await readRequest(connection);
      const body = 'not compressed at all';
      await connection.write(
        `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: ${coding}\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      );
    });
    try {
      await assertHopFails(
        jwks,
        `jwks-coding-${coding}`,
        'http_protocol_error',
        `its body does not decode as its Content-Encoding says \\(${code}\\) after [\\d.]+ ms`,
      );
    } finally {
      await jwks.close();
    }
  });
}
