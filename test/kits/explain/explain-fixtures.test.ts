/**
 * `explain` on the logs real nginx, HAProxy and Candor wrote in front of the same fault-kit
 * upstreams (fixtures/record.ts): five requests reached each misbehaving upstream through each
 * proxy, so each failure type must be counted exactly that often; the deploy storm's size is
 * taken from the raw lines.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { renderText } from '../../../src/kits/explain/render-text.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { explain, LOG_SETS, lines, statusCount, typeCounts } from './explain-fixture.ts';

const ROUNDS = 5;

/** Requests to a path prefix that got a 5xx (or exactly `status`), read from the raw lines. */
function raw(file: string, prefix: string, status?: number): number {
  return lines(file).filter((line) => {
    let path: string | undefined;
    let code: number | undefined;
    if (line.startsWith('{')) {
      const entry = JSON.parse(line);
      [path, code] = [entry.path, entry.status];
    } else {
      const m =
        /"GET (\S+) HTTP\/1\.1" (\d{3}) /.exec(line) ?? /\] \S+ \S+ \S+ (-?\d+) .*"GET (\S+) /.exec(line);
      if (m) [path, code] = line.includes('] fe_main') ? [m[2], Number(m[1])] : [m[1], Number(m[2])];
    }
    return (
      path?.startsWith(prefix) && code !== undefined && (status === undefined ? code >= 500 : code === status)
    );
  }).length;
}

test('nginx access and error logs: every 5xx gets its cause from the error log', async () => {
  const report = await explain(LOG_SETS.nginx);
  const app = raw('nginx-access.log', '/app/');
  assert.ok(app >= 20, `the deploy storm is in the log (${app} 5xx)`);
  assert.deepEqual(typeCounts(report), {
    // refused, the deployed app while it was down, and both servers of the nolive group once
    connection_refused: ROUNDS + app + 2,
    connection_timeout: ROUNDS,
    http_response_timeout: ROUNDS + raw('nginx-access.log', '/slowish/', 504),
    connection_terminated: 2 * ROUNDS, // closed and reset before the head
    http_protocol_error: 2 * ROUNDS, // an SSH banner (passed through as HTTP/0.9, "009") and an invalid header
    http_response_header_section_size: ROUNDS,
    http_response_incomplete: ROUNDS, // reset mid-body: logged 200
    http_response_transfer_coding: ROUNDS, // bad chunk size: logged 200
    tls_protocol_error: ROUNDS,
    tls_certificate_error: ROUNDS,
    dns_error: ROUNDS,
    destination_unavailable: ROUNDS - 1, // "no live upstreams" once both servers had failed
  });
  assert.equal(report.requests, lines('nginx-access.log').length);
  assert.equal(report.failedAttempts, 1, 'the nolive group: the first server failed, then the second');
  assert.equal(statusCount(report, 9), ROUNDS);
  // The own503 upstream's 503s: "combined" has no $upstream_status, so nginx's word is missing.
  assert.equal(report.upstreamOwn5xx, 0);
  assert.equal(report.unexplained5xx, ROUNDS);
  const all5xx = report.statuses.filter((s) => s.status >= 500).reduce((sum, s) => sum + s.count, 0);
  assert.deepEqual(report.errors5xx, { byProxy: all5xx - ROUNDS, passedThrough: 0, cannotTell: ROUNDS });
  assert.deepEqual(report.files[0].errors5xx, report.errors5xx, 'the access log holds every 5xx');
  assert.deepEqual(
    report.files.map((f) => [f.lines, f.parsed, f.skipped]),
    [
      [271, 271, 0],
      [125, 125, 0],
    ],
    'every line of both files is in its format (the error log at info: notices too)',
  );
  assert.equal(report.clientAborted, 3);
});

test("nginx access log with $upstream_status, and its error log: the own503 upstream's 503s passed through", async () => {
  const report = await explain(LOG_SETS['nginx-timed']);
  assert.equal(report.upstreamOwn5xx, ROUNDS);
  assert.equal(report.unexplained5xx, 0);
  assert.equal(report.errors5xx.passedThrough, ROUNDS);
  assert.equal(report.errors5xx.cannotTell, 0);
});

test('nginx access log alone: its 5xx are counted, and said to be unexplained', async () => {
  const report = await explain([LOG_SETS.nginx[0]]);
  // Only the SSH banner's "009" names its cause by itself (nginx passed it on as HTTP/0.9).
  assert.deepEqual(typeCounts(report), { http_protocol_error: raw('nginx-access.log', '/ssh/', 9) });
  const all5xx = report.statuses.filter((s) => s.status >= 500).reduce((sum, s) => sum + s.count, 0);
  assert.equal(report.unexplained5xx, all5xx);
  assert.match(report.notes.join('\n'), /"combined" format has no upstream or timings/);
});

test('nginx access log with timings: upstream addresses and waits come from the line itself', async () => {
  const report = await explain(LOG_SETS['nginx-timed']);
  assert.deepEqual(typeCounts(report), typeCounts(await explain(LOG_SETS.nginx)));
  const slowish = report.timeouts.find((t) => t.timeouts === raw('nginx-access.log', '/slowish/', 504));
  assert.ok(slowish?.waited, 'the slowish upstream timed out, and the waits are known');
  assert.ok(slowish.answered >= 10);
});

test('HAProxy: termination states map to the taxonomy', async () => {
  const report = await explain(LOG_SETS.haproxy);
  const app = raw('haproxy.log', '/app/');
  assert.ok(app >= 20, `the deploy storm is in the log (${app} 5xx)`);
  assert.deepEqual(typeCounts(report), {
    // SC: refused, and the TLS handshakes HAProxy cannot tell apart from a refusal
    connection_refused: 3 * ROUNDS + app,
    connection_timeout: ROUNDS, // sC
    // sH: the hang (with the requests whose client left: HAProxy waited on) and the slowish ones
    http_response_timeout: raw('haproxy.log', '/hang/', 504) + raw('haproxy.log', '/slowish/', 504),
    connection_terminated: 2 * ROUNDS, // SH
    http_protocol_error: 4 * ROUNDS, // PH: SSH banner, invalid header, huge head, bad chunk
    http_response_incomplete: ROUNDS, // SD
    destination_unavailable: 2 * ROUNDS, // <NOSRV>: the nolive backend, the unresolvable server
  });
  assert.equal(raw('haproxy.log', '/hang/', 504), ROUNDS + 3);
  const refused = report.shapes[0].types.find((t) => t.type === 'connection_refused');
  assert.deepEqual(
    refused?.loggedStatuses,
    [{ status: 503, count: 3 * ROUNDS + app }],
    'HAProxy answers 503',
  );
  assert.equal(report.upstreamOwn5xx, ROUNDS);
  assert.equal(report.errors5xx.passedThrough, ROUNDS, 'termination state "--": the server\'s own');
  assert.equal(report.errors5xx.cannotTell, 0);
  assert.ok(report.upstreams.some((u) => u.name === 'be_app'));
  assert.ok(report.targets.some((t) => t.name === 'be_app/app1'));
});

test("Candor's own log: the failure types are read as written", async () => {
  const report = await explain(LOG_SETS.candor);
  const app = raw('candor.log', '/app/');
  assert.ok(app >= 20, `the deploy storm is in the log (${app} 5xx)`);
  assert.deepEqual(typeCounts(report), {
    connection_refused: ROUNDS + app,
    dns_error: ROUNDS,
    tls_certificate_error: ROUNDS,
    tls_protocol_error: ROUNDS,
    connection_timeout: ROUNDS,
    http_response_timeout: ROUNDS + raw('candor.log', '/slowish/', 504),
    connection_terminated: 2 * ROUNDS,
    http_response_incomplete: ROUNDS,
    http_protocol_error: 2 * ROUNDS,
    http_response_header_section_size: ROUNDS,
    http_response_transfer_coding: ROUNDS,
    destination_not_found: ROUNDS, // no route for /nolive in Candor's config
  });
  assert.equal(report.requests, lines('candor.log').length - 1, 'every line but "listening"');
  assert.equal(report.upstreamOwn5xx, ROUNDS);
  assert.deepEqual(report.errors5xx, { byProxy: 84, passedThrough: ROUNDS, cannotTell: 0 });
  assert.equal(report.clientAborted, 3);
  assert.equal(statusCount(report, 499), 3);
});

test('the four shapes come with their likely cause and first check, from the taxonomy', async () => {
  const report = await explain(LOG_SETS.candor);
  assert.deepEqual(
    report.shapes.map((s) => s.shape),
    ['unreachable', 'slow', 'reset', 'garbage', 'gateway'],
  );
  const unreachable = report.shapes[0];
  assert.equal(unreachable.headline, 'the upstream is not there');
  assert.equal(
    unreachable.likelyCause,
    'nothing is listening at the upstream address: the connection was refused',
  );
  assert.equal(unreachable.firstCheck, 'Start the upstream process, or fix the port in the target URL.');
});

test('HAProxy logging raw (`log stdout format raw`): the same report as through syslog', async () => {
  const raw = join(tempDir('candor-explain-'), 'haproxy-raw.log');
  writeFileSync(
    raw,
    lines('haproxy.log')
      .map((line) => line.replace(/^.*?haproxy\[\d+\]: /, ''))
      .join('\n'),
  );
  const viaSyslog = await explain(LOG_SETS.haproxy);
  const logged = await explain([raw]);
  // Only the syslog header dates HAProxy's health lines: raw, they have no time and are skipped.
  assert.deepEqual(
    viaSyslog.health.changes.map((h) => [h.name, h.state, h.reason, h.first]),
    [
      [
        'be_nolive/nolive1',
        'down',
        'Layer4 connection problem (Connection refused)',
        '2026-11-21T13:10:58.000Z',
      ],
      ['be_nolive', 'no-server', 'no server available', '2026-11-21T13:10:58.000Z'],
    ],
  );
  assert.deepEqual(logged.health, { events: 0, changes: [], noServer: [], circuitOpen: [] });
  // ...and are quoted in a note of their own, not only counted.
  const skipped = logged.notes.filter((n) => n.startsWith(`${raw}: 22 lines not read as haproxy.`));
  assert.equal(skipped.length, 1);
  assert.match(skipped[0], /line 1: Server be_nolive\/nolive1 is DOWN/);
  const notes = logged.notes.filter((n) => n !== skipped[0]);
  assert.deepEqual({ ...logged, files: [], health: [], notes }, { ...viaSyslog, files: [], health: [] });
});

test("Candor's retried attempts (`tries`) count as failed attempts of their type", async () => {
  const line = JSON.parse(lines('candor.log')[5]);
  const retried = {
    ...line,
    status: 200,
    error: undefined,
    attempts: 2,
    tries: [
      { target: 'http://10.0.0.5:3001', error: 'connection_refused', stage: 'not_sent', ms: 1 },
      { target: 'http://10.0.0.6:3001', status: 200, ms: 12 },
    ],
  };
  const file = join(tempDir('candor-explain-'), 'candor-retry.log');
  writeFileSync(file, `${JSON.stringify(retried)}\n`);
  const report = await explain([file]);
  assert.equal(report.failedAttempts, 1);
  assert.deepEqual(typeCounts(report), { connection_refused: 1 });
  assert.deepEqual(report.statuses, [{ status: 200, count: 1 }]);
});

test('a Candor line naming an error type this version does not know (another version wrote it) is counted under that name, not as a 5xx whose log gave no cause', async () => {
  const line = JSON.parse(lines('candor.log')[5]);
  const newer = { ...line, status: 502, error: 'quantum_decoherence', tries: undefined };
  const hostile = { ...line, status: 503, error: 'x\u001b[2J; rm -rf', tries: undefined };
  const file = join(tempDir('candor-explain-'), 'candor-newer.log');
  writeFileSync(file, `${JSON.stringify(newer)}\n${JSON.stringify(newer)}\n${JSON.stringify(hostile)}\n`);
  const report = await explain([file]);
  assert.deepEqual(report.unknownTypes, [
    { type: 'quantum_decoherence', count: 2 },
    { type: '(not a type name)', count: 1 },
  ]);
  assert.equal(report.unexplained5xx, 0, 'the log says why: in words this version does not read');
  assert.deepEqual(typeCounts(report), {});
  const text = renderText(report);
  assert.match(text, /\n {2}error types this version does not know +3\n {4}quantum_decoherence +2\n/);
  assert.doesNotMatch(text, /cause unknown/);
  assert.match(
    text,
    /What to check first\n[\s\S]*error types this version does not know: quantum_decoherence ×2, \(not a type name\) ×1\n/,
  );
});

test("a storm of lines naming a type this version does not know is told by that type, not as '502, cause unknown'", async () => {
  const at = (ms: number, fields: Record<string, unknown>) =>
    JSON.stringify({
      level: 'info',
      time: new Date(Date.parse('2026-11-24T10:00:00Z') + ms).toISOString(),
      gateway: 'g',
      msg: 'request',
      route: 'api',
      upstream: 'app',
      ...fields,
    });
  const rows = [
    ...Array.from({ length: 120 }, (_, i) => at(i * 1000, { status: 200, ttfb_ms: 3 })),
    ...Array.from({ length: 30 }, (_, i) =>
      at(120_000 + i * 10, { status: 502, error: 'quantum_decoherence' }),
    ),
  ];
  const file = join(tempDir('candor-explain-'), 'candor-newer-storm.log');
  writeFileSync(file, `${rows.join('\n')}\n`);
  const report = await explain([file]);
  assert.equal(report.storms.length, 1);
  assert.deepEqual(report.storms[0].types, [{ type: 'quantum_decoherence', count: 30 }]);
});
