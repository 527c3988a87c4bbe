/**
 * A request of a split route held while its side has no target draws its side again when it
 * wakes (the split stage's upstreamsNow): on the fields as access left them, as its first draw did.
 * With `hash_key: header:X-User-Id` written by forward auth, the user the auth service named
 * stays on its side; a client that forges X-User-Id cannot pick the side it wakes on.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { keyPoint } from '../../../src/proxy/select/split.ts';
import { startAuthService } from '../../helpers/auth-service.ts';
import { request } from '../../helpers/http-client.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';

/** A user the split (blue first, 1:1) places on blue: its hash in the first half; and one on green. */
const userOn = (side: 'blue' | 'green') => {
  for (let n = 0; ; n++) if (keyPoint(`user-${n}`) < 0.5 === (side === 'blue')) return `user-${n}`;
};

test("a held request of a split keyed on forward auth's X-User-Id wakes on its user's side, not the side a forged copy names", async () => {
  // `Bearer NAME` is X-User-Id NAME.
  const service = await startAuthService((req, res) => {
    res.writeHead(204, { 'x-user-id': String(req.headers.authorization).slice('Bearer '.length) }).end();
  });
  // Blue out of rotation by its health check until `blueUp`; its requests held meanwhile.
  let blueUp = false;
  const blue = await listenOnLoopback((req, res) => {
    if (req.url === '/health') res.writeHead(blueUp ? 200 : 503).end();
    else res.end('blue');
  });
  const greenPort = await freePort();
  const green = http.createServer((_req, res) => res.end('green'));
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: app
    match: { path: /app }
    split:
      - { upstream: blue, weight: 1 }
      - { upstream: green, weight: 1 }
    hash_key: header:X-User-Id
    auth:
      forward: { url: "${service.url}", copy_headers: [X-User-Id] }
upstreams:
  blue:
    hold: { timeout: 20s }
    health_check: { path: /health, interval: 3600s, timeout: 1s, rise: 1, fall: 1 }
    panic_threshold: 0
    targets:
      - url: ${blue.url}
  green:
    retries: { attempts: 1 }
    outlier_detection: { consecutive_failures: 1, base_ejection_time: 1s }
    targets:
      - url: http://127.0.0.1:${greenPort}
`);
  try {
    const runtime = gw.gateway.runtime();
    const held = () => runtime.upstreams.get('blue')?.hold.size ?? 0;
    const blueTarget = runtime.upstreams.get('blue')?.targets[0];
    const greenTarget = runtime.upstreams.get('green')?.targets[0];
    await waitUntil('blue out of rotation', () => blueTarget?.checkedHealthy === false);
    // Green ejected by one refusal (its ejection running out wakes nobody), then listening.
    const refused = await request(gw.url, {
      path: '/app',
      headers: { authorization: `Bearer ${userOn('green')}` },
    });
    assert.ok([502, 503].includes(refused.status), `${refused.status}`);
    assert.ok((greenTarget?.ejectedUntil ?? 0) > performance.now(), 'green ejected');
    await new Promise<void>((resolve) => green.listen(greenPort, '127.0.0.1', resolve));
    // Blue's user, with a forged X-User-Id that names a user of green: held on blue.
    const waiting = request(gw.url, {
      path: '/app',
      headers: {
        authorization: `Bearer ${userOn('blue')}`,
        'x-user-id': userOn('green'),
        'x-request-id': 'held',
      },
      timeoutMs: 20_000,
    });
    await waitUntil('held on blue', () => held() === 1);
    await waitUntil('green back in rotation', () => (greenTarget?.ejectedUntil ?? 0) <= performance.now());
    assert.equal(held(), 1);
    // Blue's probe passes: the request wakes with both sides in rotation, and draws its side again.
    blueUp = true;
    const res = await waiting;
    assert.equal(res.status, 200);
    assert.equal(res.text, 'blue');
    const line = await gw.logFor('held');
    assert.equal(line.upstream, 'blue');
    assert.equal(typeof line.held_ms, 'number');
  } finally {
    await gw.close();
    green.close();
    await blue.close();
    await service.close();
  }
});
