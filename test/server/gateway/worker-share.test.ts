/**
 * The limits a cluster splits among its workers (worker-share.ts): each worker's slices add up
 * exactly to the configured value. Here the spool's total (`limits.spool.max_total`): the disk
 * the gateway's spool files may take is the gateway's, not each worker's.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { splitLimits } from '../../../src/server/gateway/worker-share.ts';
import { MINIMAL, SOURCE } from '../../core/config/config-fixture.ts';

test("limits.spool.max_total is split exactly among the workers; max_response and the directory are each worker's whole", () => {
  const config = parseConfig(
    `${MINIMAL}limits:\n  spool: { max_response: 1MiB, max_total: 10 }\n  spool_dir: /var/tmp/spool\n`,
    SOURCE,
    {},
  );
  const slices = [0, 1, 2].map((index) => splitLimits(config, { index, of: 3 }).limits);
  assert.deepEqual(
    slices.map((l) => l.spool.maxTotal),
    [4, 3, 3],
  );
  for (const limits of slices) {
    assert.equal(limits.spool.maxResponse, 1024 * 1024);
    assert.equal(limits.spoolDir, '/var/tmp/spool');
  }
  assert.equal(splitLimits(config, { index: 0, of: 1 }).limits.spool.maxTotal, 10);
});

test("an upstream's hold.max_requests and hold.max_body are split exactly among the workers, never to 0 requests; its timeout is each worker's whole", () => {
  const config = parseConfig(
    `${MINIMAL.replace('    targets:', '    hold: { timeout: 7s, max_requests: 10, max_body: 100 }\n    targets:')}`,
    SOURCE,
    {},
  );
  const holds = [0, 1, 2].map((index) => splitLimits(config, { index, of: 3 }).upstreams.api.hold);
  assert.deepEqual(
    holds.map((h) => [h?.maxRequests, h?.maxBody, h?.timeout]),
    [
      [4, 34, 7000],
      [3, 33, 7000],
      [3, 33, 7000],
    ],
  );
  // What a refusal names: the configured values beside the worker's share.
  assert.deepEqual(holds[0]?.of, { maxRequests: 10, maxBody: 100 });
  const two = parseConfig(
    MINIMAL.replace('    targets:', '    hold: { max_requests: 2 }\n    targets:'),
    SOURCE,
    {},
  );
  assert.deepEqual(
    [0, 1, 2].map((index) => splitLimits(two, { index, of: 3 }).upstreams.api.hold?.maxRequests),
    [1, 1, 1],
  );
  assert.equal(splitLimits(config, { index: 0, of: 1 }).upstreams.api.hold?.maxRequests, 10);
});

test('limits.buffer_total is split exactly among the workers: the memory slow readers hold is the gateway’s', () => {
  const config = parseConfig(`${MINIMAL}limits:\n  buffer_total: 10\n`, SOURCE, {});
  assert.deepEqual(
    [0, 1, 2].map((index) => splitLimits(config, { index, of: 3 }).limits.bufferTotal),
    [4, 3, 3],
  );
  assert.equal(splitLimits(config, { index: 0, of: 1 }).limits.bufferTotal, 10);
});
