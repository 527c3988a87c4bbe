/**
 * A proxy's own resources running out, as HAProxy and nginx log it. HAProxy's own (termination state `R`: memory, sockets, source ports;
 * `PC`: the process's socket limit met while connecting) are the proxy's, not the backend's pool:
 * proxy_resources_exhausted, whose advice is the proxy's open-file limit and port range. Read as
 * connection_limit_reached, they were told to "add targets or capacity, or raise
 * pool.max_connections": a fix of the backend for a limit of the proxy. A queue timeout (`sQ`)
 * is still the backend's limit. nginx's no local port left (connect()'s 99, EADDRNOTAVAIL, which
 * Candor calls proxy_resources_exhausted itself), its open files (24, EMFILE) and its
 * worker_connections are nginx's too, as Caddy's Go errors for the same (`cannot assign requested
 * address`, `socket: too many open files`) are Caddy's, and Envoy's connect failure with errno 99
 * or 24 is Envoy's (read as connection_refused, the upstream's refusal).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readFlags } from '../../../src/kits/explain/readers/envoy-flags.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { explain, typeCounts } from './explain-fixture.ts';

const line = (n: number, state: string) =>
  `<134>Nov 21 13:11:0${n} haproxy[2814]: 127.0.0.1:5203${n} [21/Nov/2026:13:11:0${n}.590] fe_main be_app/app1 0/0/-1/-1/0 503 217 - - ${state} 1/1/0/0/0 0/0 "GET /x/${n} HTTP/1.1"`;

test("HAProxy's own resources running out (R, PC) are proxy_resources_exhausted; a queue timeout (sQ) is the backend's limit", async () => {
  const path = join(tempDir('candor-haproxy-'), 'haproxy.log');
  writeFileSync(path, `${['RC--', 'PC--', 'sQ--'].map((state, n) => line(n, state)).join('\n')}\n`);
  const report = await explain([path]);
  assert.deepEqual(typeCounts(report), { proxy_resources_exhausted: 2, connection_limit_reached: 1 });
  const gateway = report.shapes.find((s) => s.shape === 'gateway');
  assert.match(gateway?.firstCheck ?? '', /open-file limit/);
});

test("nginx's own resources running out (no local port, no file descriptor, worker_connections) are proxy_resources_exhausted", async () => {
  const at = (n: number, message: string) =>
    `2026/11/21 13:11:0${n} [alert] 2817#2817: *${n} ${message} while connecting to upstream, client: 127.0.0.1, server: localhost, request: "GET /x/${n} HTTP/1.1", upstream: "http://10.0.0.5:80/x/${n}", host: "gw"`;
  const path = join(tempDir('candor-nginx-'), 'error.log');
  writeFileSync(
    path,
    `${[
      at(0, 'connect() to 10.0.0.5:80 failed (99: Cannot assign requested address)'),
      at(1, 'socket() failed (24: Too many open files)'),
      at(2, '1024 worker_connections are not enough'),
      at(3, 'connect() failed (111: Connection refused)'),
    ].join('\n')}\n`,
  );
  const report = await explain([path]);
  assert.deepEqual(typeCounts(report), { proxy_resources_exhausted: 3, connection_refused: 1 });
  // nginx's own ports and files say nothing of the upstream: only its refusal counts against it.
  assert.deepEqual(
    report.upstreams.map((u) => [u.name, u.failures]),
    [['10.0.0.5:80', 1]],
  );
});

test("Caddy's own ports or files running out are proxy_resources_exhausted, not the upstream's pool", async () => {
  const at = (n: number, message: string) =>
    JSON.stringify({
      level: 'error',
      ts: 1795346296 + n,
      logger: 'http.log.error.log0',
      msg: message,
      request: {
        remote_ip: '127.0.0.1',
        remote_port: `3465${n}`,
        proto: 'HTTP/1.1',
        method: 'GET',
        host: 'gw',
        uri: `/x/${n}`,
      },
      duration: 0.001,
      status: 502,
    });
  const path = join(tempDir('candor-caddy-'), 'caddy.log');
  writeFileSync(
    path,
    `${[
      at(0, 'dial tcp 10.0.0.5:80: connect: cannot assign requested address'),
      at(1, 'dial tcp 10.0.0.5:80: socket: too many open files'),
      at(2, 'dial tcp 10.0.0.5:80: connect: connection refused'),
    ].join('\n')}\n`,
  );
  const report = await explain([path]);
  assert.deepEqual(typeCounts(report), { proxy_resources_exhausted: 2, connection_refused: 1 });
});

test("Envoy's connect failure with its own errno 99 or 24 is proxy_resources_exhausted; 111 stays the upstream's refusal", () => {
  const details = (errno: number) =>
    `upstream_reset_before_response_started{remote_connection_failure,delayed_connect_error:_${errno}}`;
  assert.equal(readFlags('UF', details(99)).failure, 'proxy_resources_exhausted');
  assert.equal(readFlags('UF', details(24)).failure, 'proxy_resources_exhausted');
  // %UPSTREAM_TRANSPORT_FAILURE_REASON% writes it in words.
  assert.equal(readFlags('UF', 'delayed connect error: 99').failure, 'proxy_resources_exhausted');
  assert.equal(readFlags('UF', details(111)).failure, 'connection_refused');
});
