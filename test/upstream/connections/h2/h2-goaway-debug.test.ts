/**
 * A GOAWAY's debug data (RFC 9113 §6.8: "additional debug data … for diagnostic purposes only")
 * is named in the failure it causes: grpc-go tells its reason there alone (`too_many_pings`, with
 * ENHANCE_YOUR_CALM, when a client pings more often than its keepalive policy allows), and the
 * log said only "GOAWAY ENHANCE_YOUR_CALM", which an operator could not act on. Bytes of the
 * upstream's, so shown as `snippet` shows them (visible ASCII, 40 at most, quoted).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../../../helpers/http-client.ts';
import { scriptedH2Upstream } from '../../../helpers/scripted-h2-upstream.ts';
import { startTestGateway } from '../../../helpers/test-gateway.ts';
import { FRAME, frame } from '../../../proxy/accept/h2/h2-frames.ts';

const ENHANCE_YOUR_CALM = 11;

function goaway(lastStreamId: number, code: number, debug: string): Buffer {
  const payload = Buffer.concat([Buffer.alloc(8), Buffer.from(debug, 'latin1')]);
  payload.writeUInt32BE(lastStreamId, 0);
  payload.writeUInt32BE(code, 4);
  return frame(FRAME.GOAWAY, 0, 0, payload);
}

for (const [label, last, debug, said] of [
  ['covering the request', 1, 'too_many_pings', '"too_many_pings"'],
  ['below the request', 0, 'too_many_pings', '"too_many_pings"'],
  ['with bytes no field may hold', 1, 'a "b"\r\nc\u00ff', '"a ?b???c?"'],
] as const) {
  test(`a GOAWAY ${label}: its debug data is in the details`, async () => {
    const upstream = await scriptedH2Upstream((socket) =>
      socket.write(goaway(last, ENHANCE_YOUR_CALM, debug)),
    );
    const gw = await startTestGateway(
      `name: edge-1\nroutes:\n  - { match: { path: / }, upstream: app }\nupstreams:\n  app:\n    protocol: h2c\n    retries: { attempts: 1 }\n    targets: [{ url: "${upstream.url}" }]\n`,
    );
    try {
      const res = await request(gw.url, { path: '/', headers: { 'x-request-id': 'g' } });
      assert.equal(res.status, 502);
      const line = await gw.logFor('g');
      assert.equal(line.error, 'connection_terminated');
      const goawayWords = `ENHANCE_YOUR_CALM, last stream ${last}, debug data ${said}`;
      assert.ok(String(line.details).includes(goawayWords), String(line.details));
      assert.ok(
        String(res.headers['proxy-status']).includes(goawayWords.replaceAll('"', '\\"')),
        String(res.headers['proxy-status']),
      );
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
}
