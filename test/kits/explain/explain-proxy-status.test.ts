/**
 * `candor explain --proxy-status VALUE` and `--error TYPE`, as a real child process: a 502's
 * Proxy-Status as curl -i, devtools or a ticket shows it, read member by member with the
 * failure table's words; log files given as before are untouched (explain-cli.test.ts).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Failure } from '../../../src/core/failure/failure.ts';
import { failureProxyStatus, proxyStatusType } from '../../../src/core/failure/proxy-status.ts';
import { FAILURE_TYPES, FAILURES } from '../../../src/core/failure/taxonomy.ts';
import type { ExplainedMember, ExplainedType } from '../../../src/kits/explain/proxy-status-explain.ts';
import { runExplain } from './explain-fixture.ts';

const EXAMPLE =
  'edge-1; error=connection_refused; details="connection refused (ECONNREFUSED) after 0.6 ms"; next-hop="api"';

async function explained(args: string[]): Promise<{ members: ExplainedMember[] }> {
  const { code, stdout, stderr } = await runExplain(['--json', ...args]);
  assert.equal(code, 0, stderr);
  assert.equal(stderr, '');
  return JSON.parse(stdout);
}

test('every type of the failure table, by name: its title, meaning, status and shape, none unexplained', async () => {
  const { errors } = (await explained(FAILURE_TYPES.flatMap((type) => ['--error', type]))) as unknown as {
    errors: ExplainedType[];
  };
  assert.deepEqual(
    errors.map((e) => e.type),
    FAILURE_TYPES,
  );
  for (const e of errors) {
    const kind = FAILURES[e.type as keyof typeof FAILURES];
    assert.equal(
      e.known,
      proxyStatusType(e.type as keyof typeof FAILURES) === e.type ? 'rfc9209' : 'candor',
      e.type,
    );
    assert.equal(e.status, kind.status, e.type);
    assert.equal(e.shape, kind.shape, e.type);
    assert.equal(e.title, kind.title, e.type);
    assert.equal(e.meaning, kind.explanation, e.type);
    assert.equal(e.clientMayRetry, kind.clientMayRetry, e.type);
    assert.equal(e.retryAfter, kind.retryAfter, e.type);
    assert.ok((e.advice ?? '').length > 0, e.type);
  }
});

test('every member a Candor gateway writes, in one value: each explained with the status it answers', async () => {
  const value = FAILURE_TYPES.map((type) =>
    failureProxyStatus(`edge-${type}`, new Failure(type, 'x'), 'api'),
  ).join(', ');
  const { members } = await explained(['--proxy-status', value]);
  assert.equal(members.length, FAILURE_TYPES.length);
  members.forEach((member, i) => {
    const type = FAILURE_TYPES[i];
    assert.equal(member.proxy, `edge-${type}`);
    assert.equal(member.position, i + 1);
    const written = proxyStatusType(type);
    if (written === null) {
      assert.equal(member.error, undefined, type);
      return;
    }
    assert.equal(member.error?.type, written, type);
    assert.notEqual(member.error?.known, 'unknown', type);
    // A registered type Candor also writes for finer cases of its own names them, with their status.
    const status =
      member.error?.type === type
        ? member.error.status
        : member.error?.candorCases?.find((c) => c.type === type)?.status;
    assert.equal(status, FAILURES[type].status, type);
  });
});

test('the example of the docs, as text: who, what, status, shape, retry, next hop, details', async () => {
  const { code, stdout, stderr } = await runExplain(['--proxy-status', EXAMPLE]);
  assert.equal(code, 0, stderr);
  for (const expected of [
    /^Proxy-Status member 1 of 1, written by edge-1 \(the only hop that wrote one\)$/m,
    /^ {2}error: {6}connection_refused \(RFC 9209\): Upstream refused the connection$/m,
    /^ {2}meaning: {4}nothing is listening at the upstream address: the connection was refused$/m,
    /^ {2}status: {5}502 from a Candor gateway; shape: unreachable$/m,
    /^ {2}retry: {6}You may retry later, with exponential backoff/m,
    /^ {2}check: {6}Start the upstream process, or fix the port in the target URL\.$/m,
    /^ {2}next hop: {3}"api": the upstream edge-1 sent the request to/m,
    /^ {2}details: {4}"connection refused \(ECONNREFUSED\) after 0\.6 ms"$/m,
  ])
    assert.match(stdout, expected);
});

test('the whole line pasted from curl -i, CRLF and all, and several Proxy-Status lines, read as one field', async () => {
  const once = await explained(['--proxy-status', `Proxy-Status: ${EXAMPLE}\r\n`]);
  assert.equal(once.members.length, 1);
  assert.equal(once.members[0].proxy, 'edge-1');
  assert.equal(once.members[0].nextHop, 'api');
  const twice = await explained([
    '--proxy-status',
    `proxy-status: ${EXAMPLE}\r\nProxy-Status: cdn; received-status=502\r\n`,
  ]);
  assert.deepEqual(
    twice.members.map((m) => m.proxy),
    ['edge-1', 'cdn'],
  );
});

test('the whole head curl -i printed, pasted: its Proxy-Status lines are read, the status line and other fields left out', async () => {
  const head = [
    'HTTP/1.1 502 Bad Gateway',
    'date: Tue, 01 Dec 2026 05:09:37 GMT',
    'content-type: text/plain; charset=utf-8',
    `proxy-status: ${EXAMPLE}`,
    'x-request-id: f5ce4602-a86f-4132-aecd-32bb54456afc',
    'Proxy-Status: cdn; received-status=502',
    'vary: Accept',
    '',
  ].join('\r\n');
  const { members } = await explained(['--proxy-status', head]);
  assert.deepEqual(
    members.map((m) => [m.proxy, m.error?.type, m.receivedStatus]),
    [
      ['edge-1', 'connection_refused', undefined],
      ['cdn', undefined, 502],
    ],
  );
});

test('several hops in order: the first nearest the origin; received-status is a status passed on, not a failure', async () => {
  const { members } = await explained([
    '--proxy-status',
    `${EXAMPLE}, cdn; received-status=502; next-hop="edge-1.internal"`,
  ]);
  assert.deepEqual(
    members.map((m) => [m.position, m.of, m.proxy]),
    [
      [1, 2, 'edge-1'],
      [2, 2, 'cdn'],
    ],
  );
  assert.equal(members[1].error, undefined);
  assert.equal(members[1].receivedStatus, 502);
  assert.match(members[1].summary, /passed on the 502 its next hop answered: cdn did not fail/);
  const { stdout } = await runExplain(['--proxy-status', `${EXAMPLE}, cdn; received-status=502`]);
  assert.match(stdout, /^Proxy-Status member 1 of 2, written by edge-1 \(the hop nearest the origin\)$/m);
  assert.match(stdout, /^Proxy-Status member 2 of 2, written by cdn \(the hop nearest the client\)$/m);
});

test('a member that failed after its next hop answered: the received status is not the one passed on', async () => {
  // RFC 9209 §2.1.2: received-status is what the next hop answered; beside `error`, this proxy
  // failed after it (an invalid answer, a body cut), and its client got the proxy's own status.
  const { stdout } = await runExplain([
    '--proxy-status',
    'lb; error=http_protocol_error; received-status=200',
  ]);
  assert.match(stdout, /^ {2}lb failed: .*, after its next hop answered 200$/m);
  assert.match(
    stdout,
    /^ {2}received: {3}200, the next hop's own status; lb failed after it, so its client did not get it$/m,
  );
  assert.doesNotMatch(stdout, /passed on as it came/);
});

test('what each next hop names: an upstream, an auth hop, the session store, none', async () => {
  const { members } = await explained([
    '--proxy-status',
    'a; error=destination_unavailable; next-hop="auth:sso", b; error=proxy_internal_response; next-hop="store:redis", c; error=destination_not_found',
  ]);
  assert.match(members[0].nextHopMeans ?? '', /auth hop "sso"/);
  assert.match(members[1].nextHopMeans ?? '', /OpenID Connect session store \(Redis\)/);
  assert.equal(members[2].nextHop, undefined);
  assert.match(members[2].nextHopMeans ?? '', /no upstream took part/);
});

test("a type of another proxy's own is said as unknown, not refused; RFC 9209 types Candor never writes are known", async () => {
  const { members } = await explained([
    '--proxy-status',
    'envoy; error=upstream_reset_before_response_started, squid; error=http_response_body_size, edge-1; error=connection_write_timeout',
  ]);
  assert.equal(members[0].error?.known, 'unknown');
  assert.equal(members[0].error?.type, 'upstream_reset_before_response_started');
  assert.equal(members[1].error?.known, 'rfc9209');
  assert.equal(members[1].error?.candorWrites, false);
  assert.equal(members[1].error?.status, 502);
  // Written by Candor since timeouts.send: a row of its table, no longer one it never writes.
  assert.equal(members[2].error?.known, 'rfc9209');
  assert.equal(members[2].error?.candorWrites, undefined);
  assert.equal(members[2].error?.status, 504);
  const text = await runExplain(['--error', 'frobnicated']);
  assert.equal(text.code, 0);
  assert.match(text.stdout, /frobnicated: unknown: not a type of RFC 9209's registry nor of Candor's/);
});

test('a value that cannot be read says where, exit 65, no stack; an empty one or one mixed with logs exits 64', async () => {
  for (const [value, where] of [
    ['edge-1; error=connection_refused; details="cut', /a string opened at character 43 is never closed/],
    ['; error=connection_refused', /member 1 has no name/],
    ['edge-1, ; error=dns_error', /member 2 has no name/],
    ['edge one; error=dns_error', /member 1's name "edge one" has a space in it/],
  ] as const) {
    const { code, stdout, stderr } = await runExplain(['--proxy-status', value]);
    assert.equal(code, 65, value);
    assert.equal(stdout, '');
    assert.match(stderr, where, value);
    assert.doesNotMatch(stderr, /\n {4}at /, 'no stack trace');
  }
  const empty = await runExplain(['--proxy-status', '']);
  assert.equal(empty.code, 64);
  assert.match(empty.stderr, /--proxy-status is "", no value/);
  const both = await runExplain(['--proxy-status', EXAMPLE, 'access.log']);
  assert.equal(both.code, 64);
  assert.match(both.stderr, /--proxy-status explains a value, not logs/);
  const badName = await runExplain(['--error', 'two words']);
  assert.equal(badName.code, 65);
  assert.match(badName.stderr, /"two words" is no error type name/);
});

test("the docs' example is what explain prints", async () => {
  const docs = readFileSync(join(import.meta.dirname, '../../../docs/diagnose-and-explain.md'), 'utf8');
  const block = /```console\n\$ npx candor explain --proxy-status '(.*)'\n([\s\S]*?)```/.exec(docs);
  assert.ok(block, 'docs/diagnose-and-explain.md has the --proxy-status example');
  const { code, stdout } = await runExplain(['--proxy-status', block[1]]);
  assert.equal(code, 0);
  assert.equal(stdout, block[2]);
});

test('a pasted value cannot drive the terminal: control characters are printed escaped; a bare name says no error', async () => {
  const { code, stdout } = await runExplain([
    '--proxy-status',
    'cdn, "edge\x1b]0;x\x07"; error=connection_refused; details="a\x1b[2Jb"',
  ]);
  assert.equal(code, 0);
  assert.doesNotMatch(stdout, /\x1b/);
  assert.match(stdout, /written by edge\\x1b\]0;x\\x07 /);
  assert.match(stdout, /^ {2}cdn names no error: nothing failed at this hop$/m);
});

test('a connect timeout in the TLS handshake, as a Candor gateway wrote it, is not told as a TCP connect that never came', async () => {
  // Recorded from Candor's own 504 (the walk of docs/hostile-peers.md, "candor explain and
  // diagnose against nginx's and HAProxy's own lines"): an https target that takes the TCP
  // connection and never answers the ClientHello, `timeouts: { connect: 1s }`.
  const value =
    'edge-1; error=connection_timeout; details="TLS handshake not done after 1000 ms"; next-hop="tlsstall"';
  const { members } = await explained(['--proxy-status', value]);
  const error = members[0].error as ExplainedType;
  assert.equal(error.status, 504);
  assert.match(error.meaning ?? '', /TLS handshake/);
  assert.doesNotMatch(error.meaning ?? '', /^the TCP connection/);
  assert.match(error.fix ?? '', /speaks TLS/);
});
