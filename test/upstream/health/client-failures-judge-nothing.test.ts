/**
 * Outlier detection judges a target by what the target did. An attempt the client ended (a
 * chunked body past the route's limit, 413; a body too slow, 408) or the gateway ended before
 * the target took the request (a pool queue wait that expired) says nothing of the target:
 * it must neither count as a failure nor, as it did, as a success that wipes the target's
 * failures in a row and brings an ejected target whose ejection ran out back into rotation.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { request } from '../../helpers/http-client.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';

/** A POST whose chunked body passes the route's 1 KiB limit: the gateway cuts it, 413. */
function oversizedUpload(url: string, id: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL('/upload', url), {
      method: 'POST',
      agent: false,
      headers: { 'transfer-encoding': 'chunked', 'x-request-id': id },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    // Sent in pieces, after the head, so the upload streams to the target first.
    req.flushHeaders();
    const piece = Buffer.alloc(512, 'x');
    let sent = 0;
    const more = () => {
      if (req.destroyed || sent++ > 8) return req.end();
      req.write(piece, () => setTimeout(more, 5));
    };
    setTimeout(more, 20);
  });
}

/**
 * A target that resets every GET before its head (connection_terminated) and reads an upload
 * without answering, behind a route that streams bodies up to 1 KiB; two failures in a row eject.
 */
async function resettingTarget(extra: string, ejection: string) {
  const upstream = await startRawFault(async (connection) => {
    const req = await connection.nextRequest();
    if (req.method === 'GET') await connection.reset(0);
  });
  const yaml = singleUpstream(upstream.url, {
    upstream: `    retries: { attempts: 1 }
    ${extra}
    outlier_detection: { consecutive_failures: 2, base_ejection_time: ${ejection} }`,
  }).replace(
    '    upstream: app\n',
    '    upstream: app\n    request_buffering: false\n    limits: { body: 1KiB }\n',
  );
  return { upstream, gw: await startTestGateway(yaml) };
}

test("a client's 413 between two resets does not wipe the target's failures in a row: the second reset ejects it", async () => {
  const { upstream, gw } = await resettingTarget('panic_threshold: 0', '60s');
  try {
    assert.equal((await request(gw.url, { path: '/a' })).status, 502);
    assert.equal(await oversizedUpload(gw.url, 'upload'), 413);
    const upload = await gw.logFor('upload');
    assert.equal(upload.error, 'http_request_error', JSON.stringify(upload));
    assert.equal((await request(gw.url, { path: '/b' })).status, 502);
    const ejected = gw.logs.filter((line) => line.msg === 'target ejected');
    assert.equal(ejected.length, 1, JSON.stringify(gw.logs));
    assert.equal(ejected[0].reason, 'connection_terminated');
    // Ejected, with panic off: the next request is the gateway's 503, not a third reset.
    const next = await request(gw.url, { path: '/c' });
    assert.equal(next.status, 503);
    assert.match(String(next.headers['proxy-status']), /error=destination_unavailable/);
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test("a client's 413 taken as the probe of a lapsed ejection does not bring the target back: the next reset ejects it again", async () => {
  const { upstream, gw } = await resettingTarget('', '100ms');
  try {
    assert.equal((await request(gw.url, { path: '/a' })).status, 502);
    assert.equal((await request(gw.url, { path: '/b' })).status, 502);
    const target = gw.gateway.runtime().upstreams.get('app')?.targets[0];
    assert.ok(target?.isEjected(performance.now()));
    while (target?.isEjected(performance.now())) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(await oversizedUpload(gw.url, 'upload'), 413);
    await gw.logFor('upload');
    assert.deepEqual(
      gw.logs.filter((line) => line.msg === 'target back in rotation'),
      [],
      'a body the client made too large proves nothing of the target',
    );
    // Still on probation: one more reset is the failed probe, a second ejection at once.
    assert.equal((await request(gw.url, { path: '/c', headers: { 'x-request-id': 'c' } })).status, 502);
    await gw.logFor('c');
    const ejected = gw.logs.filter((line) => line.msg === 'target ejected');
    assert.deepEqual(
      ejected.map((line) => line.ejections),
      [1, 2],
      JSON.stringify(gw.logs),
    );
  } finally {
    await gw.close();
    await upstream.close();
  }
});
