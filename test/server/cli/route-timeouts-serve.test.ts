/**
 * A route's timeouts through a real `candor serve`: `route_defaults.timeouts` gives every route a
 * 500 ms response timeout, a route of its own keeps waiting for the slow upstream; `candor check`
 * lists which route took the default, and refuses a route whose total is below its response
 * timeout at that route's line.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');

test('through candor serve: the default response timeout answers 504, a route of its own waits for the 200; candor check lists and refuses', {
  timeout: 60_000,
}, async () => {
  const dir = tempDir('candor-route-timeouts-');
  const timers = new Set<NodeJS.Timeout>();
  // Answers its head after 2 s.
  const origin = await listenOnLoopback((_req, res) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      res.end('slow but whole');
    }, 2000);
    timers.add(timer);
  });
  const path = join(dir, 'candor.yaml');
  const config = (own: string) => `name: edge-1
listen:
  - address: 127.0.0.1:0
route_defaults:
  timeouts: { response: 500ms }
routes:
  - name: quick
    match: { path: /quick }
    upstream: app
  - name: patient
    match: { path: /patient }
    upstream: app
    timeouts:
${own}upstreams:
  app:
    retries: { attempts: 1 }
    targets: [{ url: ${origin.url} }]
`;
  writeFileSync(path, config('      response: 5s\n'));
  let serve: ServeProcess | undefined;
  try {
    const check = spawnSync(process.execPath, [BIN, 'check', path], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(check.status, 0, check.stderr);
    // patient writes the one key the default has: it takes nothing.
    assert.match(check.stdout, /\nroute defaults taken:\n {2}routes\[0\] "quick": timeouts\n$/);

    serve = await startServe(path, 2); // each worker builds the route's timeouts from the config it is sent
    const base = `http://127.0.0.1:${serve.port}`;
    const [quick, patient] = await Promise.all([
      request(base, { path: '/quick/x' }),
      request(base, { path: '/patient/x' }),
    ]);
    assert.equal(quick.status, 504);
    assert.match(
      String(quick.headers['proxy-status']),
      /^edge-1; error=http_response_timeout; details="no response head \(response timeout of 500 ms\) after \d+ ms"; next-hop="app"$/,
    );
    assert.equal(patient.status, 200);
    assert.equal(patient.text, 'slow but whole');

    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, config('      total: 100ms\n'));
    const refused = spawnSync(process.execPath, [BIN, 'check', bad], { encoding: 'utf8', timeout: 20_000 });
    assert.notEqual(refused.status, 0);
    assert.match(
      refused.stderr,
      new RegExp(
        `${bad.replaceAll('.', '\\.')}:14:\\d+ {2}routes\\[1\\]\\.timeouts\\.total: timeouts\\.total \\(100ms, the route's\\) must be at least timeouts\\.response \\(500ms, route_defaults\\.timeouts\\.response at line 5\\)`,
      ),
    );
  } finally {
    await serve?.stop();
    for (const timer of timers) clearTimeout(timer);
    await origin.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
