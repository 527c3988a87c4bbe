/**
 * HAProxy's own resources running out (termination state `R`: memory, sockets, source ports;
 * `PC`: the process's socket limit met while connecting) are the proxy's, not the backend's pool:
 * proxy_resources_exhausted, whose advice is the proxy's open-file limit and port range. Read as
 * connection_limit_reached, they were told to "add targets or capacity, or raise
 * pool.max_connections": a fix of the backend for a limit of the proxy. A queue timeout (`sQ`)
 * is still the backend's limit.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { explain, typeCounts } from './explain-fixture.ts';

const line = (n: number, state: string) =>
  `<134>Nov 21 13:11:0${n} haproxy[2814]: 127.0.0.1:5203${n} [21/Nov/2026:13:11:0${n}.590] fe_main be_app/app1 0/0/-1/-1/0 503 217 - - ${state} 1/1/0/0/0 0/0 "GET /x/${n} HTTP/1.1"`;

test("HAProxy's own resources running out (R, PC) are proxy_resources_exhausted; a queue timeout (sQ) is the backend's limit", async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'candor-haproxy-')), 'haproxy.log');
  writeFileSync(path, `${['RC--', 'PC--', 'sQ--'].map((state, n) => line(n, state)).join('\n')}\n`);
  const report = await explain([path]);
  assert.deepEqual(typeCounts(report), { proxy_resources_exhausted: 2, connection_limit_reached: 1 });
  const gateway = report.shapes.find((s) => s.shape === 'gateway');
  assert.match(gateway?.firstCheck ?? '', /open-file limit/);
});
