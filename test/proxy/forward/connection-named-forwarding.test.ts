/**
 * A trusted proxy whose `Connection` names the forwarding fields it sends (`Connection:
 * X-Forwarded-For`): such a field is meant for this hop alone (RFC 9110 §7.6.1), which reads it
 * (the client it vouches for is the one `allow`/`deny`, `rate_limit` and `{client_ip}` judge) and
 * sends none of its lines on. The X-Forwarded-For, X-Forwarded-Host and Forwarded this hop writes
 * say what it took from them, as they do when no Connection names them: the upstream was told
 * `X-Forwarded-For: 127.0.0.1` alone, the proxy as the client, while the gateway judged
 * `203.0.113.7` and a rule's `{client_ip}` said so beside it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { trustedProxyFixture } from './trusted-proxy-fixture.ts';

const fixture = await trustedProxyFixture();
const { send } = fixture;
const { upstreamFields } = fixture;

test("X-Forwarded-For named in Connection: the upstream's X-Forwarded-For is the client the gateway judged, then the proxy", async () => {
  const status = await send(
    'named-xff',
    'Connection: close, X-Forwarded-For\r\nX-Forwarded-For: 203.0.113.7\r\n',
  );
  assert.equal(status, 200);
  assert.deepEqual(upstreamFields('named-xff', 'x-client'), ['203.0.113.7']);
  assert.deepEqual(upstreamFields('named-xff', 'x-forwarded-for'), ['203.0.113.7, 127.0.0.1']);
  // The proxy sent no Forwarded: none is made (as without the Connection).
  assert.deepEqual(upstreamFields('named-xff', 'forwarded'), []);
});

test('Forwarded and X-Forwarded-Host named in Connection: this hop appends to what they said, as when none names them', async () => {
  const status = await send(
    'named-forwarded',
    'Connection: close, forwarded, X-FORWARDED-HOST\r\nForwarded: for=203.0.113.7;host=shop.example;proto=https\r\nX-Forwarded-Host: shop.example\r\n',
  );
  assert.equal(status, 200);
  assert.deepEqual(upstreamFields('named-forwarded', 'x-client'), ['203.0.113.7']);
  assert.deepEqual(upstreamFields('named-forwarded', 'forwarded'), [
    'for=203.0.113.7;host=shop.example;proto=https, for=127.0.0.1;host=app;proto=https',
  ]);
  assert.deepEqual(upstreamFields('named-forwarded', 'x-forwarded-for'), ['203.0.113.7, 127.0.0.1']);
  assert.deepEqual(upstreamFields('named-forwarded', 'x-forwarded-host'), ['shop.example']);
  assert.deepEqual(upstreamFields('named-forwarded', 'x-forwarded-proto'), ['https']);
});

test('a field named in Connection that this hop does not speak for is still dropped', async () => {
  const status = await send('named-other', 'Connection: close, X-Debug\r\nX-Debug: 1\r\n');
  assert.equal(status, 200);
  assert.deepEqual(upstreamFields('named-other', 'x-debug'), []);
  assert.deepEqual(upstreamFields('named-other', 'x-forwarded-for'), ['127.0.0.1']);
});
