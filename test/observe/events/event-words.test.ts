/** Each kind of change in words, as GET /events, the status page and `candor explain` say it. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeEvent } from '../../../src/observe/events/event-words.ts';
import type { GatewayEvent } from '../../../src/observe/events/gateway-event.ts';
import { readEvent } from '../../../src/observe/events/read-event.ts';

const at = '2026-11-23T10:00:00.000Z';
const none = { added: [], removed: [], changed: [] };

test('every kind of change in words', () => {
  const cases: [GatewayEvent, string][] = [
    [
      {
        kind: 'reload',
        at,
        config_hash: 'sha256:0123456789abcdef',
        via: 'SIGHUP',
        routes: { added: ['a', 'b'], removed: [], changed: ['c'] },
        upstreams: { added: [], removed: ['old'], changed: ['api', 'web'] },
        targets: {
          api: { joined: ['http://10.0.0.7:80'], left: ['http://10.0.0.5:80', 'http://10.0.0.6:80'] },
        },
      },
      'reload sha256:0123456789abcdef (routes a, b added; route c changed; upstream old removed; upstreams api, web changed; upstream api: target http://10.0.0.7:80 joined, targets http://10.0.0.5:80, http://10.0.0.6:80 left)',
    ],
    [
      {
        kind: 'reload',
        at,
        config_hash: 'sha256:0123456789abcdef',
        via: 'etcd',
        revision: 42,
        author: 'alice',
        routes: none,
        upstreams: { added: [], removed: [], changed: ['api'] },
        targets: {},
      },
      'reload sha256:0123456789abcdef of etcd revision 42 by alice (upstream api changed)',
    ],
    [
      {
        kind: 'reload',
        at,
        config_hash: 'sha256:0123456789abcdef',
        via: 'etcd',
        revision: 43,
        author: 'alice',
        same_document: true,
        routes: none,
        upstreams: none,
        targets: {},
      },
      'etcd revision 43 by alice: the document running already (sha256:0123456789abcdef), nothing reloaded',
    ],
    [
      {
        kind: 'reload',
        at,
        config_hash: 'sha256:0123456789abcdef',
        via: 'etcd',
        revision: 44,
        author: 'frank',
        rollback_of: 6,
        routes: none,
        upstreams: { added: [], removed: [], changed: ['api'] },
        targets: {},
      },
      'reload sha256:0123456789abcdef of etcd revision 44 by frank, a rollback to revision 6 (upstream api changed)',
    ],
    [
      {
        kind: 'reload',
        at,
        config_hash: 'sha256:0123456789abcdef',
        via: 'etcd',
        revision: 45,
        author: 'frank',
        rollback_of: 6,
        same_document: true,
        routes: none,
        upstreams: none,
        targets: {},
      },
      'etcd revision 45 by frank, a rollback to revision 6: the document running already (sha256:0123456789abcdef), nothing reloaded',
    ],
    [
      {
        kind: 'reload',
        at,
        config_hash: 'sha256:0123456789abcdef',
        via: 'admin',
        routes: none,
        upstreams: none,
        targets: {},
      },
      'reload sha256:0123456789abcdef (nothing routed changed)',
    ],
    [
      {
        kind: 'reload',
        at,
        config_hash: 'sha256:0123456789abcdef',
        via: 'admin',
        routes: none,
        upstreams: { added: [], removed: [], changed: ['api'] },
        targets: { api: { joined: ['http://10.0.0.7:80'], left: [] } },
      },
      'reload sha256:0123456789abcdef (upstream api: target http://10.0.0.7:80 joined)',
    ],
    [
      {
        kind: 'admin',
        at,
        who: '127.0.0.1:50412',
        change: { kind: 'target_state', upstream: 'api', target: 'http://10.0.0.5:80', state: 'draining' },
      },
      'admin: drained http://10.0.0.5:80 (upstream api) by 127.0.0.1:50412',
    ],
    [
      {
        kind: 'admin',
        at,
        who: '127.0.0.1:50412',
        change: { kind: 'weights', upstream: 'api', weights: [{ target: 'http://10.0.0.5:80', weight: 0 }] },
      },
      'admin: weights of upstream api set to http://10.0.0.5:80 0 by 127.0.0.1:50412',
    ],
    [
      { kind: 'admin', at, who: 'program', change: { kind: 'maintenance', route: 'api', enabled: true } },
      'admin: maintenance on for route api by program',
    ],
    [
      {
        kind: 'admin',
        at,
        who: 'program',
        change: {
          kind: 'split',
          route: 'api',
          split: [
            { upstream: 'api', weight: 75 },
            { upstream: 'api-next', weight: 25 },
          ],
        },
      },
      'admin: route api split api 75, api-next 25 by program',
    ],
    [
      { kind: 'discovery', at, upstream: 'api', joined: ['http://10.0.0.7:80'], left: [] },
      'DNS answer (upstream api: target http://10.0.0.7:80 joined)',
    ],
    [
      {
        kind: 'health',
        at,
        upstream: 'api',
        target: 'http://10.0.0.7:80',
        state: 'unhealthy',
        failure: 'connection_refused',
      },
      'target http://10.0.0.7:80 (upstream api) went unhealthy (connection_refused)',
    ],
    [
      { kind: 'health', at, upstream: 'api', target: 'http://10.0.0.7:80', state: 'healthy' },
      'target http://10.0.0.7:80 (upstream api) went healthy',
    ],
    [
      { kind: 'canary', at, route: 'api', upstream: 'api-next', action: 'step', weight: 25 },
      'canary api-next moved to 25% (route api)',
    ],
    [
      {
        kind: 'canary',
        at,
        route: 'api',
        upstream: 'api-next',
        action: 'rollback',
        weight: 0,
        reason: 'connection_terminated 4.9% against 0.1% (p = 0.0003)',
      },
      'canary api-next rolled back to 0% (route api): connection_terminated 4.9% against 0.1% (p = 0.0003)',
    ],
    [
      { kind: 'canary', at, route: 'api', upstream: 'api-next', action: 'promote', weight: 100 },
      'canary api-next promoted (route api)',
    ],
    [
      { kind: 'canary', at, route: 'api', upstream: 'api-next', action: 'pause', weight: 10 },
      'canary api-next paused at 10% (route api)',
    ],
    [
      { kind: 'canary', at, route: 'api', upstream: 'api-next', action: 'start', weight: 0 },
      'canary api-next started at 0% (route api)',
    ],
    [
      { kind: 'canary', at, route: 'api', upstream: 'api-next', action: 'hold', weight: 50 },
      'canary api-next held at 50% (route api)',
    ],
    [
      {
        kind: 'worker',
        at,
        pid: 4242,
        exit: 'SIGKILL',
        served: true,
        short_lived_in_a_row: 1,
        restart_in_ms: 0,
        replacement_pid: 4250,
      },
      'worker 4242 ended by SIGKILL (its connections cut); replaced by worker 4250',
    ],
    [
      { kind: 'worker', at, pid: 4250, exit: 1, served: true, short_lived_in_a_row: 4, restart_in_ms: 400 },
      'worker 4250 exited with code 1 (its connections cut); replaced in 0.4 s (4 short-lived workers in a row)',
    ],
    [
      { kind: 'worker', at, pid: 4260, exit: 69, served: false, short_lived_in_a_row: 2, restart_in_ms: 100 },
      'worker 4260 exited with code 69 (before it served); replaced in 0.1 s (2 short-lived workers in a row)',
    ],
  ];
  for (const [event, words] of cases) assert.equal(describeEvent(event), words);
});

test("a fleet's reload read back from its log line keeps its revision and author; a revision that is no number is left out", () => {
  const line = {
    kind: 'reload',
    at,
    config_hash: 'sha256:0123456789abcdef',
    via: 'etcd',
    revision: 42,
    author: 'alice',
    routes: none,
    upstreams: none,
    targets: {},
  };
  assert.deepEqual(readEvent(JSON.parse(JSON.stringify(line))), line);
  const { revision: _revision, author: _author, ...plain } = line;
  assert.deepEqual(readEvent({ ...line, revision: '42' }), plain);
  // A revision of the document running, taken without a reload, is read back as one.
  const same = { ...line, same_document: true };
  assert.deepEqual(readEvent(JSON.parse(JSON.stringify(same))), same);
  assert.deepEqual(readEvent({ ...line, same_document: 'yes' }), line);
  // A rollback's revision is read back with its push, and only as a revision.
  const rollback = { ...line, rollback_of: 6 };
  assert.deepEqual(readEvent(JSON.parse(JSON.stringify(rollback))), rollback);
  assert.deepEqual(readEvent({ ...line, rollback_of: '6' }), line);
  assert.deepEqual(readEvent({ ...plain, rollback_of: 6 }), plain);
});

test("a worker's death read back from its log line is the event recorded; a field Candor never writes is not read", () => {
  const died = {
    kind: 'worker',
    at,
    pid: 4242,
    exit: 'SIGKILL',
    served: true,
    short_lived_in_a_row: 1,
    restart_in_ms: 0,
    replacement_pid: 4250,
  };
  assert.deepEqual(readEvent(JSON.parse(JSON.stringify(died))), died);
  const waiting = { ...died, exit: 1, short_lived_in_a_row: 3, restart_in_ms: 200 };
  delete (waiting as { replacement_pid?: number }).replacement_pid;
  assert.deepEqual(readEvent(JSON.parse(JSON.stringify(waiting))), waiting);
  assert.deepEqual(readEvent({ ...died, pid: null }), { ...died, pid: null });
  for (const forged of [
    { ...died, pid: 0 },
    { ...died, pid: -1 },
    { ...died, pid: 1.5 },
    { ...died, pid: '4242' },
    { ...died, pid: 2 ** 40 },
    { ...died, pid: undefined },
    { ...died, exit: 256 },
    { ...died, exit: -1 },
    { ...died, exit: 'KILL' },
    { ...died, exit: 'SIGKILL; rm -rf /' },
    { ...died, exit: null },
    { ...died, served: 'yes' },
    { ...died, served: undefined },
    { ...died, short_lived_in_a_row: 0 },
    { ...died, short_lived_in_a_row: 2.5 },
    { ...died, restart_in_ms: -100 },
    { ...died, restart_in_ms: Number.POSITIVE_INFINITY },
    { ...died, restart_in_ms: 10 ** 12 },
    { ...died, restart_in_ms: '0' },
    { ...died, replacement_pid: 0 },
    { ...died, replacement_pid: '4250' },
    { ...died, at: 'at 03:12' },
  ])
    assert.equal(readEvent(forged), undefined, JSON.stringify(forged));
});
