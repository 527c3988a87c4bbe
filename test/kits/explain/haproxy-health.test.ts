/**
 * HAProxy's own health lines on the access log's timeline: haproxy-docker.log is what
 * `docker logs -t` shows for the real HAProxy 2.6 (fixtures/record-haproxy-health.ts): its
 * stderr warnings and alerts and its httplog on stdout, each line behind docker's RFC 3339
 * time, while be_app's one server was stopped for 3 s under traffic (`check inter 200ms fall 2
 * rise 2`). The refused 503s come first (two failed checks 200 ms apart are needed), then the
 * DOWN and "no server available", then <NOSRV> 503s until the server is UP again.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readLogs } from '../../../src/kits/explain/read-logs.ts';
import { healthEvent } from '../../../src/kits/explain/readers/haproxy-health.ts';
import { haproxyReader } from '../../../src/kits/explain/readers/haproxy-reader.ts';
import { renderText } from '../../../src/kits/explain/render-text.ts';
import { buildReport } from '../../../src/kits/explain/report.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { explain, fixture, lines, renderNamed } from './explain-fixture.ts';

const DOCKER = fixture('haproxy-docker.log');

test('the 503 storm lists the DOWN, the empty backend and the UP that ended it', async () => {
  const report = await explain([DOCKER]);
  const text = renderNamed(report);
  assert.equal(text, EXPECTED);
  const [storm] = report.storms;
  assert.equal(storm.upstream, 'be_app');
  assert.deepEqual(storm.health, [
    {
      at: '2026-11-22T11:19:45.347Z',
      name: 'be_app/app1',
      state: 'down',
      reason: 'Layer4 connection problem (Connection refused)',
      failure: 'connection_refused',
      offsetSeconds: 0.194,
    },
    {
      at: '2026-11-22T11:19:45.347Z',
      name: 'be_app',
      state: 'no-server',
      reason: 'no server available',
      failure: 'destination_unavailable',
      offsetSeconds: 0.194,
    },
    {
      at: '2026-11-22T11:19:48.365Z',
      name: 'be_app/app1',
      state: 'up',
      reason: 'Layer4 check passed',
      failure: undefined,
      offsetSeconds: 3.212,
    },
  ]);
  // Every 503 after the DOWN and before the UP found no server; the ones before it were refused.
  const down = Date.parse(storm.health[0].at);
  const refused = lines('haproxy-docker.log').filter((l) => / be_app\/app1 .* 503 .* SC-- /.test(l));
  assert.equal(report.shapes[0].types[0].type, 'connection_refused');
  assert.equal(report.shapes[0].types[0].count, refused.length);
  for (const line of refused) assert.ok(Date.parse(line.slice(0, 30)) < down, line);
});

test('each change is counted once though HAProxy writes it to stderr and to its log target', async () => {
  const copies = lines('haproxy-docker.log').filter((l) => l.includes('Server be_app/app1 is DOWN'));
  assert.equal(copies.length, 2, 'one tagged [WARNING] on stderr, one raw on stdout');
  const report = await explain([DOCKER]);
  assert.equal(report.health.events, 9);
  assert.deepEqual(
    report.health.changes.map((h) => [h.name, h.state, h.failure ?? null, h.count]),
    [
      ['be_sick/sick1', 'down', null, 1], // Layer7 wrong status: the app answered, unhealthy
      ['be_sick', 'no-server', 'destination_unavailable', 1],
      ['be_unaccepting/unaccepting1', 'down', 'connection_timeout', 1],
      ['be_unaccepting', 'no-server', 'destination_unavailable', 1],
      ['be_hang/hang1', 'down', 'http_response_timeout', 1],
      ['be_hang', 'no-server', 'destination_unavailable', 1],
      ['be_app/app1', 'down', 'connection_refused', 1],
      ['be_app', 'no-server', 'destination_unavailable', 1],
      ['be_app/app1', 'up', null, 1],
    ],
  );
});

test('the same lines through journald (short-iso-precise) give the same report', async () => {
  // journalctl -o short-iso-precise: "2026-11-22T11:19:41.782420+00:00 web-1 haproxy[19340]: …"
  const journal = lines('haproxy-docker.log').map((line) => {
    const [time, ...rest] = line.split(' ');
    return `${time.slice(0, 26)}+00:00 web-1 haproxy[19340]: ${rest.join(' ')}`;
  });
  const file = join(tempDir('candor-explain-'), 'haproxy-journal.log');
  writeFileSync(file, `${journal.join('\n')}\n`);
  const viaJournal = await explain([file]);
  const viaDocker = await explain([DOCKER]);
  assert.equal(viaJournal.files[0].format, 'haproxy');
  assert.deepEqual({ ...viaJournal, files: [], notes: [] }, { ...viaDocker, files: [], notes: [] });
});

test("journald's short format and syslog: no year in the header, it comes from the request lines", () => {
  const request = lines('haproxy.log').find((l) => l.includes('] fe_main ')) ?? '';
  assert.equal(haproxyReader.read(request)?.kind, 'request');
  const down = haproxyReader.read(
    'Nov  2 23:59:58 web-1 haproxy[8]: [WARNING]  (8) : Server be_app/app1 is DOWN, reason: Layer4 timeout, check duration: 1001ms. 0 active and 0 backup servers left.',
  );
  assert.deepEqual(down, {
    kind: 'health',
    time: Date.UTC(2026, 10, 2, 23, 59, 58),
    upstream: 'be_app',
    target: 'be_app/app1',
    state: 'down',
    reason: 'Layer4 timeout',
    checkMs: 1001,
    failure: 'connection_timeout',
  });
  const precise = haproxyReader.read(
    'Nov 21 13:11:05.612345 web-1 haproxy[8]: backend be_app has no server available!',
  );
  assert.equal(precise?.time, Date.UTC(2026, 10, 21, 13, 11, 5, 612));
});

test('a flapping server: every change is counted, the first 1000 are kept', async () => {
  const flaps = Array.from({ length: 1002 }, (_, i) => {
    const at = new Date(Date.UTC(2026, 10, 21, 13, 0, 0) + i * 1000).toISOString();
    const state = i % 2 === 0 ? 'DOWN, reason: Layer4 timeout' : 'UP, reason: Layer4 check passed';
    return `${at} [WARNING]  (8) : Server be_app/app1 is ${state}, check duration: 1ms.`;
  });
  const file = join(tempDir('candor-explain-'), 'flapping.log');
  writeFileSync(file, `${flaps.join('\n')}\n`);
  const report = await explain([file]);
  assert.equal(report.health.events, 1002);
  assert.deepEqual(
    report.health.changes.map((h) => [h.state, h.count]),
    [
      ['down', 500],
      ['up', 500],
    ],
  );
  assert.match(
    renderText(report),
    /^Health \(the proxy's own lines: 1002 changes, the first 1000 counted below\)$/m,
  );
});

// Issue 32, item 7: such a file was refused (exit 65); health events are told without a timeline.
test('stderr lines with no time are told in the order they came, with the command that keeps the times', async () => {
  const untimed = lines('haproxy-docker.log')
    .map((line) => line.slice(line.indexOf(' ') + 1))
    .filter((line) => line.startsWith('['));
  const file = join(tempDir('candor-explain-'), 'haproxy-stderr.log');
  writeFileSync(file, `${untimed.join('\n')}\n`);
  const { tally, files, readers } = await readLogs([file], { progress: false });
  const report = buildReport(tally, files, [], readers);
  assert.equal(report.requests, 0);
  assert.ok(report.health.changes.length > 0);
  assert.ok(report.health.changes.every((change) => change.first === undefined));
  const names = report.health.changes.map((c) => `${c.name} ${c.state}`);
  assert.deepEqual(names.slice(0, 2), ['be_sick/sick1 down', 'be_sick no-server']);
  assert.deepEqual(
    report.health.noServer.map((b) => b.upstream),
    ['be_sick', 'be_unaccepting', 'be_hang', 'be_app'],
  );
  assert.match(renderText(report), /keep their times with `docker logs -t haproxy`/);
});

test('check failures map to a failure type only where the reason is certain', () => {
  const at = Date.UTC(2026, 10, 21, 13, 11, 5);
  const event = (message: string) => {
    const e = healthEvent(message, at);
    return e && [e.target ?? e.upstream, e.state, e.reason, e.failure, e.checkMs];
  };
  assert.deepEqual(
    event(
      '[WARNING]  (1) : Server be/s1 is DOWN, reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms. 0 active and 0 backup servers left.',
    ),
    ['be/s1', 'down', 'Layer4 connection problem (Connection refused)', 'connection_refused', 0],
  );
  assert.deepEqual(
    event(
      '[WARNING]  (1) : Server be/s2 is DOWN, reason: Layer4 connection problem, info: "Connection reset by peer", check duration: 1ms.',
    ),
    ['be/s2', 'down', 'Layer4 connection problem (Connection reset by peer)', undefined, 1],
  );
  assert.deepEqual(
    event(
      '[WARNING]  (1) : Server be/s3 is DOWN, reason: Layer7 invalid response, info: "TCPCHK got an empty response", check duration: 2ms.',
    ),
    ['be/s3', 'down', 'Layer7 invalid response (TCPCHK got an empty response)', 'http_protocol_error', 2],
  );
  assert.deepEqual(
    event(
      '[WARNING]  (1) : Server be/s4 is DOWN, reason: Layer6 invalid response, info: "SSL handshake failure", check duration: 3ms.',
    ),
    ['be/s4', 'down', 'Layer6 invalid response (SSL handshake failure)', 'tls_protocol_error', 3],
  );
  assert.deepEqual(event("[ALERT]    (1) : backend 'be' has no server available!"), [
    'be',
    'no-server',
    'no server available',
    'destination_unavailable',
    undefined,
  ]);
  assert.equal(event('[NOTICE]   (1) : haproxy version is 2.6.12'), undefined);
  assert.equal(
    event(
      'Health check for server be/s1 failed, reason: Layer4 timeout, check duration: 1001ms, status: 1/2 UP.',
    ),
    undefined,
  );
});

const EXPECTED = `candor explain: 174 requests, 2026-11-22 11:19:43.1 → 11:19:51.1 UTC (7.99 s)
  haproxy-docker.log  haproxy-stderr  204 lines  204 parsed  0 skipped  183 records

Statuses
  200  95  54.6%
  503  79  45.4%

Failures by shape and type
                                              count  status  logged as  where
  unreachable: the upstream is not there          4
    connection_refused                            4     502  503×4      be_app (4)
  gateway: the gateway answered on its own       75
    destination_unavailable                      75     503  503×75     be_app (59), be_sick (16)
  backend left with no server (health lines)      4                     be_sick (1), be_unaccepting (1), be_hang (1), be_app (1)

Who made the 5xx
                                      made by the proxy  passed through from the upstream  cannot tell
  haproxy-docker.log  haproxy-stderr                 79                                 0            0

Upstreams
           requests  5xx  failures  first       last        mostly
  be_app        158   63        63  11:19:45.1  11:19:48.3  destination_unavailable
  be_sick        16   16        16  11:19:43.1  11:19:50.7  destination_unavailable

Targets
               requests  5xx  failures  first       last        mostly
  be_app/app1        99    4         4  11:19:45.1  11:19:45.3  connection_refused

Health (the proxy's own lines: 9 changes)
                               state      count  first       last  reason
  be_sick/sick1                DOWN           1  11:19:41.7        Layer7 wrong status (503 Service Unavailable)
  be_sick                      no server      1  11:19:41.7
  be_unaccepting/unaccepting1  DOWN           1  11:19:42.0        Layer4 timeout
  be_unaccepting               no server      1  11:19:42.0
  be_hang/hang1                DOWN           1  11:19:42.1        Layer7 timeout
  be_hang                      no server      1  11:19:42.1
  be_app/app1                  DOWN           1  11:19:45.3        Layer4 connection problem (Connection refused)
  be_app                       no server      1  11:19:45.3
  be_app/app1                  UP             1  11:19:48.3        Layer4 check passed

Storms (buckets of 1 s)
  be_app: 11:19:45.1 → 11:19:48.3 (3.16 s), 63 5xx of 79 requests, peak 20/s (usually 0/s): destination_unavailable ×59, connection_refused ×4
    no change recorded before it (no deploy in --deploys, no event line of a Candor log): look at the upstream itself first
    be_app/app1 DOWN 194 ms into it (11:19:45.3): Layer4 connection problem (Connection refused)
    be_app had no server available 194 ms into it (11:19:45.3)
    be_app/app1 UP 48 ms after it ended (11:19:48.3): Layer4 check passed

What to check first
  unreachable (4): the upstream is not there
    likely: nothing is listening at the upstream address: the connection was refused
    check:  Start the upstream process, or fix the port in the target URL.
  gateway (75): the gateway answered on its own
    likely: every target of the upstream is out of rotation (unhealthy or circuit open), or it answered that it is unavailable
    check:  Bring a target back: where a circuit is open (the details say so, naming the last failure), find why the upstream failed; else check why each target is out of rotation (its health check failures, its ejection).
  be_unaccepting had no server left: every request to it got the proxy's 503 meanwhile
    check:  the Health section: why each of be_unaccepting's servers went DOWN, and whether it came back
  be_hang had no server left: every request to it got the proxy's 503 meanwhile
    check:  the Health section: why each of be_hang's servers went DOWN, and whether it came back

Notes
  - HAProxy's stderr lines carry no time of their own: they are placed at the time docker (or journald) received them, and without such a stamp are told in the order they came, next to no request or storm (keep their times with \`docker logs -t haproxy\`, or \`journalctl -u haproxy -o short-iso-precise\`); its access log lines' dates have no zone (read as local time: set TZ to match).
`;
