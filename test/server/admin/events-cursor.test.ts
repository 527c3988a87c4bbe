/**
 * Polling GET /events loses nothing: two events made in one millisecond share their `at`, so a
 * poller that passed the first one's time as `since` (strictly after) never saw the second.
 * Each event has an `id` that only goes up, and `?after=ID` keeps those recorded after it.
 * The admin API is the real one on a real socket, over the primary's control; the timeline's
 * clock is held still, so that the two events do share their millisecond on a loaded machine.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { Timeline } from '../../../src/observe/events/timeline.ts';
import { createLoggerOn } from '../../../src/observe/log/logger.ts';
import { type AdminServer, startAdminServer } from '../../../src/server/admin/admin-server.ts';
import { adminEndpoints } from '../../../src/server/admin/endpoints.ts';
import { ClusterControl } from '../../../src/server/cluster/cluster-control.ts';
import { adminCall } from '../../helpers/serve-process.ts';

const TOKEN = 'events-cursor-token-0123456789abcdef';
const T = Date.UTC(2026, 10, 24, 10, 0, 0);

let clock = T;
let timeline: Timeline;
let server: AdminServer;

interface Listed {
  id: number;
  at: string;
  kind: string;
  upstream: string;
}

before(async () => {
  const config = parseConfig(
    'name: cursor\nlisten:\n  - address: 127.0.0.1:0\nroutes:\n  - upstream: app\nupstreams:\n  app:\n    targets: [{ url: "http://127.0.0.1:9" }]\n',
    '<test>',
    {},
  );
  const logger = createLoggerOn(
    new Writable({ write: (_chunk, _encoding, done) => done() }),
    'info',
    'cursor',
  );
  timeline = new Timeline(logger, undefined, () => clock);
  const control = new ClusterControl('<test>', config, logger, timeline);
  server = await startAdminServer({
    host: '127.0.0.1',
    port: 0,
    token: TOKEN,
    allowedHosts: [],
    routes: adminEndpoints(control),
    logger,
  });
});

after(() => server?.close());

async function events(query: string): Promise<Listed[]> {
  const { status, body } = await adminCall(server.port(), 'GET', `/events${query}`, { token: TOKEN });
  assert.equal(status, 200, JSON.stringify(body));
  return body.events as Listed[];
}

const health = (upstream: string) =>
  timeline.record({ kind: 'health', upstream, target: 'http://127.0.0.1:9', state: 'unhealthy' });

test('a poller that passes the last id it saw gets an event made in the same millisecond as that one', async () => {
  health('first');
  const [first, ...none] = await events('');
  assert.equal(first.upstream, 'first');
  assert.deepEqual(none, []);
  assert.ok(Number.isSafeInteger(first.id), `id ${first.id}`);
  health('second');
  const [, second] = await events('');
  assert.equal(second.upstream, 'second');
  assert.equal(second.at, first.at, 'the same millisecond');
  // `since` keeps its documented meaning (strictly after), which is why it cannot be the cursor.
  assert.deepEqual(await events(`?since=${Date.parse(first.at)}`), []);
  assert.deepEqual(
    (await events(`?after=${first.id}`)).map((e) => e.upstream),
    ['second'],
    'after the first id: the second, and only it',
  );
  assert.deepEqual(await events(`?after=${second.id}`), []);
  // A clock stepped back (NTP) stamps an earlier `at`, but the id still goes up: not lost either.
  clock = T - 5_000;
  health('third');
  assert.deepEqual(
    (await events(`?after=${second.id}`)).map((e) => e.upstream),
    ['third'],
  );
  // Both filters at once: each applies.
  clock = T + 1;
  health('fourth');
  assert.deepEqual(
    (await events(`?after=${first.id}&since=${T}`)).map((e) => e.upstream),
    ['fourth'],
  );
});

test('an after that is not an id is a 400 naming it', async () => {
  for (const bad of ['abc', '-1', '1.5', '12345678901234567', '99999999999999999999', '']) {
    const { status, body } = await adminCall(server.port(), 'GET', `/events?after=${bad}`, {
      token: TOKEN,
    });
    assert.equal(status, 400, bad);
    assert.match(JSON.stringify(body), /after/, bad);
  }
});

test('a timeline made later (a restarted process) gives ids past the earlier one', () => {
  const before = timeline.ring.list().at(-1)?.id ?? 0;
  const silent = createLoggerOn(new Writable({ write: (_c, _e, done) => done() }), 'info', 'cursor');
  const restarted = new Timeline(silent, undefined, () => T + 1_000);
  const event = restarted.record({
    kind: 'health',
    upstream: 'again',
    target: 'http://127.0.0.1:9',
    state: 'healthy',
  });
  assert.ok(event.id > before, `${event.id} > ${before}`);
});
