/**
 * A client's X-Request-Id is adopted only from a `trust_forwarded_from` address: from anyone
 * else a new id is made (the one the response, the upstream, the error page and the log
 * carry), and the client's is logged beside it as `client_req_id`. So two requests never
 * share an id because a client reused one, and the id an error page asks people to quote is
 * the gateway's own.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';
import { freePort } from '../../helpers/wait.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test("an untrusted client's X-Request-Id is not adopted: a new id everywhere, the client's logged as client_req_id", async () => {
  // Closed mid-test to refuse: on a port no other test file's listen(0) is given meanwhile.
  const echo = await startEcho({ port: await freePort() });
  // The test client is on loopback, which this gateway does not trust.
  const gw = await startTestGateway(
    singleUpstream(echo.url, { extra: 'trust_forwarded_from: [10.0.0.0/8]' }),
  );
  try {
    const first = await request(gw.url, { headers: { 'x-request-id': 'reused-id-1' } });
    const second = await request(gw.url, { headers: { 'x-request-id': 'reused-id-1' } });
    const ids = [first.headers['x-request-id'], second.headers['x-request-id']].map(String);
    for (const id of ids) assert.match(id, UUID);
    assert.notEqual(ids[0], ids[1], 'two requests, two ids, whatever the client sent');
    assert.deepEqual(
      echo.received.map((r) => r.headers['x-request-id']),
      ids,
      'the upstream gets the gateway’s id',
    );
    for (const id of ids) {
      const line = await gw.logFor(id);
      assert.equal(line.client_req_id, 'reused-id-1');
    }
    assert.equal(gw.logs.filter((l) => l.req_id === 'reused-id-1').length, 0);

    // An error the gateway makes quotes its own id, in the header and the body.
    await echo.close();
    const failed = await request(gw.url, {
      headers: { 'x-request-id': 'reused-id-1', accept: 'application/json' },
    });
    assert.equal(failed.status, 502);
    const id = String(failed.headers['x-request-id']);
    assert.match(id, UUID);
    assert.equal(JSON.parse(failed.text).request_id, id);
    assert.equal((await gw.logFor(id)).client_req_id, 'reused-id-1');

    // No X-Request-Id: no client_req_id.
    const plain = await request(gw.url);
    assert.equal((await gw.logFor(String(plain.headers['x-request-id']))).client_req_id, undefined);
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('a trusted proxy’s X-Request-Id is kept: the same id on every hop, no client_req_id', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(singleUpstream(echo.url, { extra: 'trust_forwarded_from: [127.0.0.1]' }));
  try {
    const res = await request(gw.url, { headers: { 'x-request-id': 'lb-abc-123' } });
    assert.equal(res.headers['x-request-id'], 'lb-abc-123');
    assert.equal(echo.received[0].headers['x-request-id'], 'lb-abc-123');
    const line = await gw.logFor('lb-abc-123');
    assert.equal(line.client_req_id, undefined);
    // One that is not safe to echo is replaced, and not logged either.
    const unsafe = await request(gw.url, { headers: { 'x-request-id': 'has"quote' } });
    const id = String(unsafe.headers['x-request-id']);
    assert.match(id, UUID);
    assert.equal((await gw.logFor(id)).client_req_id, undefined);
  } finally {
    await gw.close();
    await echo.close();
  }
});
