/**
 * GET /status with several workers: each auth hop's counts are summed, the worst circuit shows
 * (open over half-open over closed) and the latest failure wins, as for an upstream.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mergeStatuses } from '../../../src/server/cluster/status-merge.ts';
import type { AuthHopStatus, GatewayStatus } from '../../../src/server/gateway/status.ts';

function worker(hop: AuthHopStatus): GatewayStatus {
  return {
    config_hash: 'sha256:0',
    draining: false,
    upstreams: {},
    routes: {},
    store: null,
    auth_hops: { 'auth:sso': hop },
  };
}

test('auth hops merged over workers: counts summed, the worst circuit, the latest failure', () => {
  const merged = mergeStatuses([
    {
      worker: 1,
      pid: 11,
      status: worker({
        kind: 'forward',
        upstream: 'sso',
        circuit: { state: 'closed', open_until: null },
        counts: { allowed: 5, denied: 1, fetched: 0, failed: 1 },
        last_failure: { type: 'connection_refused', details: 'a', at: '2026-11-23T10:00:00.000Z' },
      }),
    },
    {
      worker: 2,
      pid: 12,
      status: worker({
        kind: 'forward',
        upstream: 'sso',
        circuit: { state: 'open', open_until: '2026-11-23T10:01:05.000Z' },
        counts: { allowed: 2, denied: 0, fetched: 0, failed: 4 },
        last_failure: { type: 'destination_unavailable', details: 'b', at: '2026-11-23T10:01:00.000Z' },
      }),
    },
    { worker: 3, pid: undefined, status: undefined },
  ]);
  assert.deepEqual(merged.auth_hops['auth:sso'], {
    kind: 'forward',
    upstream: 'sso',
    circuit: { state: 'open', open_until: '2026-11-23T10:01:05.000Z' },
    counts: { allowed: 7, denied: 1, fetched: 0, failed: 5 },
    last_failure: { type: 'destination_unavailable', details: 'b', at: '2026-11-23T10:01:00.000Z' },
  });
});
