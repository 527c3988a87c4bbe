/**
 * A cluster worker hears the primary's probes as verdicts (applyVerdict). A passing one wakes
 * the requests waiting for the upstream (`hold`), and, as a probe of the worker's own does
 * (heldMayGo), those of a split route waiting in another side's line that this side could take.
 * Those were left to wait for their own side (or its hold.timeout) when none waited in this
 * side's own line.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { applyVerdict } from '../../../src/upstream/health/active-checks.ts';
import { createUpstream } from '../../../src/upstream/targets/upstream.ts';

const YAML = `listen: [{ address: "127.0.0.1:0" }]
routes:
  - match: { path: / }
    upstream: stable
upstreams:
  stable:
    targets:
      - url: http://127.0.0.1:9
    health_check: { path: /health, interval: 3600s }
`;

for (const healthy of [false, true])
  test(`a passing verdict from the primary (the target ${healthy ? 'already' : 'not yet'} in rotation) nudges the requests of another side that watch this one`, async () => {
    const upstream = createUpstream(parseConfig(YAML, '<test>', {}).upstreams.stable);
    try {
      const [target] = upstream.targets;
      target.checkedHealthy = healthy;
      let nudged = 0;
      upstream.hold.watch(() => nudged++);
      const now = performance.now();
      const result = { ok: true, at: now, ms: 1, status: 200 };
      applyVerdict(upstream, target, { healthy: true, result }, now, undefined);
      assert.equal(nudged, 1);
    } finally {
      await upstream.close();
    }
  });
