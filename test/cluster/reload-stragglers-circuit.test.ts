/**
 * A reload that replaces every target of an upstream starts its circuit afresh (docs/operations.md,
 * "Upstreams"; test/resilience/circuit-reload.test.ts in one process). Under `candor serve
 * --workers 2` the requests still in flight to the old targets end on the old snapshot, and
 * their failures judge the old circuit, which no new request uses. A worker that opened that old
 * circuit told the others as if it were the upstream's: each opened its fresh circuit, and every
 * request it got for the new, healthy targets was a 503 for `open_time`. The news of a circuit
 * or a target that a reload replaced is not the gateway's any more: it is not told.
 */
import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { startEcho } from '../../src/kits/fault-kit/http-servers.ts';
import { request } from '../helpers/http-client.ts';
import { closeAll } from '../helpers/keep.ts';
import { startServe } from '../helpers/serve-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';

test("the old targets' failures after a reload that replaced them open no worker's new circuit", async () => {
  // The old target: takes each request and answers none, until reset.
  const held = new Set<net.Socket>();
  const old = net.createServer((socket) => {
    held.add(socket);
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => old.listen(0, '127.0.0.1', resolve));
  const oldUrl = `http://127.0.0.1:${(old.address() as net.AddressInfo).port}`;
  const fresh = await startEcho();
  const dir = tempDir('candor-reload-stragglers-');
  const path = join(dir, 'candor.yaml');
  const config = (url: string) =>
    `name: stragglers\nlisten:\n  - address: 127.0.0.1:0\nroutes:\n  - upstream: app\nupstreams:\n  app:\n    targets:\n      - url: ${url}\n    outlier_detection: { consecutive_failures: 0 }\n    retries: { attempts: 1 }\n    circuit_breaker: { consecutive_failures: 2, open_time: 60s }\n`;
  const write = (text: string) => {
    writeFileSync(`${path}.new`, text);
    renameSync(`${path}.new`, path);
  };
  write(config(oldUrl));
  const serve = await startServe(path, 2);
  const base = `http://127.0.0.1:${serve.port}`;
  try {
    // Eight requests in flight, four a worker (the primary hands connections in turn).
    const stragglers = Array.from({ length: 8 }, (_, i) =>
      request(base, { path: `/old${i}`, timeoutMs: 30_000 }),
    );
    for (let i = 0; i < 400 && held.size < 8; i++) await new Promise((resolve) => setTimeout(resolve, 25));
    assert.equal(held.size, 8);

    write(config(fresh.url));
    serve.child.kill('SIGHUP');
    await serve.waitForLines('config reloaded', 1, 20_000);
    // Now they fail: each worker's old circuit opens.
    for (const socket of held) socket.resetAndDestroy();
    for (const answer of await Promise.all(stragglers)) assert.equal(answer.status, 502);
    await serve.waitForLines('circuit opened', 1);

    for (let i = 0; i < 10; i++) {
      const answer = await request(base, { path: `/new${i}` });
      assert.equal(answer.status, 200, `/new${i}: ${answer.headers['proxy-status']}`);
    }
    assert.equal(fresh.received.filter((r) => r.path.startsWith('/new')).length, 10);
  } finally {
    await closeAll(serve, fresh, old);
  }
});
