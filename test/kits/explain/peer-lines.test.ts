/**
 * Lines the real peers wrote, recorded on loopback in front of fault-kit upstreams (the
 * walk of docs/hostile-peers.md, "candor explain and diagnose against nginx's and HAProxy's
 * own lines"), each read for what it says by itself:
 *
 * - fixtures/peers/haproxy-2.6-data-phase.log: HAProxy 2.6.12 (Debian 12), `mode http`,
 *   `option httplog`, `log stdout format raw`, `timeout connect 1s`, `timeout server 1s`,
 *   `timeout client 3s`; POSTs of 30 MB to a server that reads none of the body (`sD--`, -1),
 *   one that resets under it (`SD--`, -1), 100 bytes to one that reads them and never answers
 *   (`sH--` 504), and GETs whose body stalls (`sD--` 200) or is reset (`SD--` 200).
 * - fixtures/peers/nginx-1.22-http09-*.log: nginx 1.22.1 (Debian 12), `proxy_pass` to an SSH
 *   banner, a JSON body, an HTML page, a Redis reply and a status line with letters in its
 *   code, none of them HTTP: nginx passes them on as HTTP/0.9 and logs "009" (`combined`, and
 *   `log_format timed '… $upstream_status $upstream_response_time $request_time'`), with
 *   "upstream sent no valid HTTP/1.0 header" in its error log at `info`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { explain, fixture, runExplain, typeCounts } from './explain-fixture.ts';

const HTTPLOG =
  '%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r';
const haproxyLines = fixture('peers/haproxy-2.6-data-phase.log');

/** Type → upstreams (HAProxy's backends) it was counted at. */
function where(report: Awaited<ReturnType<typeof explain>>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const shape of report.shapes)
    for (const t of shape.types) out[t.type] = t.upstreams.map((u) => u.upstream).sort();
  return out;
}

const DATA_PHASE = {
  // The server took none of the body for `timeout server`: Candor's timeouts.send, 504.
  connection_write_timeout: ['be_deaf', 'be_upload'],
  // Reset before any head, the body still going up: 502, as a reset before the head.
  connection_terminated: ['be_rst'],
  http_response_timeout: ['be_hole'],
  http_response_incomplete: ['be_resetmidbody'],
  connection_read_timeout: ['be_stall'],
};

test("HAProxy's data-phase flags with no response head (Tr -1) are the upload's: sD connection_write_timeout, SD connection_terminated", async () => {
  const report = await explain([haproxyLines]);
  assert.deepEqual(typeCounts(report), {
    connection_write_timeout: 2,
    connection_terminated: 2,
    http_response_timeout: 1,
    http_response_incomplete: 1,
    connection_read_timeout: 1,
  });
  assert.deepEqual(where(report), DATA_PHASE);
  const write = report.shapes.flatMap((s) => s.types).find((t) => t.type === 'connection_write_timeout');
  assert.deepEqual(write?.answered, [504]);
});

test('the same lines read through the httplog written as a log-format', async () => {
  const { code, stdout } = await runExplain(['--json', '--log-format', HTTPLOG, haproxyLines]);
  assert.equal(code, 0);
  assert.deepEqual(where(JSON.parse(stdout)), DATA_PHASE);
});

const TIMED =
  '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $upstream_status $upstream_response_time $request_time';

test("nginx's 009 (an upstream that is not HTTP, passed on as HTTP/0.9) is http_protocol_error by the access line alone", async () => {
  const combined = await explain([fixture('peers/nginx-1.22-http09-access.log')]);
  // /ssh/ /json/ /html/ /redis/ /badstatus/: 009; /badheader/'s 502 and /nocolon/'s 200 say nothing alone.
  assert.deepEqual(typeCounts(combined), { http_protocol_error: 5 });
  assert.equal(combined.unexplained5xx, 1);
  const { code, stdout } = await runExplain([
    '--json',
    '--log-format',
    TIMED,
    fixture('peers/nginx-1.22-http09-timed.log'),
  ]);
  assert.equal(code, 0);
  assert.deepEqual(typeCounts(JSON.parse(stdout)), { http_protocol_error: 5 });
});

test('with its error log, each 009 takes its own line once; the HTTP/0.9 body that then timed out stays an attempt', async () => {
  const report = await explain([
    fixture('peers/nginx-1.22-http09-access.log'),
    fixture('peers/nginx-1.22-http09-error.log'),
  ]);
  // /badheader/'s 502 takes no line here (its error line was not kept): cause unknown, as before.
  assert.deepEqual(typeCounts(report), { http_protocol_error: 5, connection_read_timeout: 1 });
  const types = report.shapes.flatMap((s) => s.types);
  assert.deepEqual(Object.fromEntries(types.map((t) => [t.type, [t.requests, t.attempts]])), {
    http_protocol_error: [5, 0],
    connection_read_timeout: [0, 1],
  });
});
