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
