/**
 * `candor diagnose` as a real child process: exit statuses, the text people read, --json.
 * Every run starts at once (a process costs most of a second); the tests read the results.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { closeAll } from '../../helpers/keep.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');
const dir = tempDir('candor-diagnose-');

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'diagnose', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

let echo: Fault;
let refused: Fault;
let runs: Record<'refused' | 'healthy' | 'own503' | 'badConfig' | 'usage', Run>;

before(async () => {
  echo = await startEcho();
  refused = await startRefusing();
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'listen: nope\n');
  const [a, b, c, d, e] = await Promise.all([
    run([`${refused.url}/`]),
    run([`${echo.url}/?bytes=1234`]),
    run([echo.url, '--path', '/?status=503', '--json']),
    run(['app', '--config', bad]),
    run(['app', '--timeout', '300']),
  ]);
  runs = { refused: a, healthy: b, own503: c, badConfig: d, usage: e };
});

after(() => closeAll(echo, refused));

test('a refused port: one line per step, the verdict and the fix, exit 2, no colour in a pipe', () => {
  const result = runs.refused;
  assert.equal(result.code, 2);
  assert.equal(result.stderr, '');
  const lines = result.stdout.trimEnd().split('\n');
  // The bounds said before the wait: a silent upstream holds the probe up to its response timeout.
  assert.equal(lines[0], `candor diagnose ${refused.url}/ (timeouts: connect 2000 ms, response 30000 ms)`);
  assert.equal(lines[1], '  ✓ dns      127.0.0.1 (IP literal, no lookup)');
  assert.match(lines[2], /^ {2}✗ connect {2}connection refused \(ECONNREFUSED\) after \d+(\.\d)? ms$/);
  assert.equal(lines[3], 'verdict: unreachable / connection_refused → Candor answers 502');
  assert.equal(
    lines[4],
    `fix: nothing listens on 127.0.0.1:${refused.port}. Start the upstream, or fix the port in the target URL.`,
  );
  assert.equal(lines.length, 5);
  assert.doesNotMatch(result.stdout, /\x1b\[/);
});

test('a healthy echo exits 0, with the status line, the headers and the body size', () => {
  const result = runs.healthy;
  assert.equal(result.code, 0);
  assert.match(result.stdout, /✓ response HTTP\/1\.1 200 OK, \d+ headers, first byte after/);
  assert.match(result.stdout, /\n {13}Content-Length: 1234\n/);
  assert.match(result.stdout, /✓ body {5}1234 bytes, content-length, complete/);
  assert.match(result.stdout, /verdict: the upstream answers 200 → Candor passes it through/);
});

test("--json: one document with steps, timings and the verdict; the upstream's own 503 exits 1", () => {
  const result = runs.own503;
  assert.equal(result.code, 1);
  const report = JSON.parse(result.stdout);
  assert.deepEqual(Object.keys(report), ['target', 'config', 'targets', 'via', 'comparison', 'exitCode']);
  assert.equal(report.exitCode, 1);
  const [target] = report.targets;
  assert.equal(target.url, `${echo.url}/?status=503`);
  assert.deepEqual(
    target.steps.map((step: { step: string; ok: boolean }) => [step.step, step.ok]),
    [
      ['dns', true],
      ['connect', true],
      ['request', true],
      ['response', true],
      ['body', true],
    ],
  );
  for (const step of target.steps.slice(1)) assert.equal(typeof step.ms, 'number', step.step);
  assert.equal(target.steps[3].facts.status, 503);
  assert.equal(typeof target.steps[3].facts.ttfbMs, 'number');
  assert.deepEqual(
    [target.verdict.outcome, target.verdict.status, target.verdict.receivedStatus, target.verdict.failure],
    ['upstream_error', 503, 503, null],
  );
  assert.match(target.verdict.summary, /^the upstream answers, with its own 503/);
});

test('an invalid config exits 78 with its problems; a bad option exits 64', () => {
  assert.equal(runs.badConfig.code, 78);
  assert.match(runs.badConfig.stderr, /bad\.yaml/);
  assert.equal(runs.usage.code, 64);
  assert.match(
    runs.usage.stderr,
    /^candor: --timeout needs a duration with its unit, like 500ms or 2s; got "300"/,
  );
});

test('a duration of zero is refused as zero, not as one without its unit', async () => {
  const zero = await run(['--timeout', '0s', `${echo.url}/`]);
  assert.equal(zero.code, 64);
  assert.match(zero.stderr, /^candor: --timeout needs a duration above zero, like 500ms or 2s; got "0s"\n/);
});

test('a --ca file that holds no certificate, or is not there, exits 64 saying so (TLS would probe with the system roots alone)', async () => {
  const key = join(import.meta.dirname, '../../../docs/examples/certs/api-key.pem');
  const notCa = await run(['--ca', key, `${echo.url}/`]);
  assert.equal(notCa.code, 64);
  assert.match(notCa.stderr, new RegExp(`^candor: the CA file ${key} holds no PEM certificate`));
  const missing = await run(['--ca', join(dir, 'gone.pem'), `${echo.url}/`]);
  assert.equal(missing.code, 64);
  assert.match(missing.stderr, /^candor: cannot read the CA file \S+gone\.pem: no such file\n/);
  if (process.platform === 'linux') {
    // A device would be read without end: it ran out of memory with a V8 fatal error.
    const device = await run(['--ca', '/dev/zero', `${echo.url}/`]);
    assert.equal(device.code, 64);
    assert.match(device.stderr, /^candor: cannot read the CA file \/dev\/zero: not a file\n/);
  }
});

test('a --header value with CR or LF is refused with 64: it would write a field of its own into the probe', async () => {
  const echoed = echo.received.length;
  const split = await run(['-H', 'X-Test: a\r\nX-Injected: 1', `${echo.url}/`]);
  assert.equal(split.code, 64);
  assert.match(split.stderr, /^candor: --header X-Test: its value has a control character/);
  assert.equal(echo.received.length, echoed, 'nothing reached the target');
});

// The report is pasted into tickets: `-H 'Authorization: …'` (the fix diagnose itself advises for
// a URL's user:password@) was echoed whole in --json's request facts.
test("--json shows a credential's value sent with -H as ***; the target gets it whole", async () => {
  const { code, stdout } = await run([
    `${echo.url}/creds`,
    '--json',
    '-H',
    'Authorization: Bearer s3cret-token',
    '-H',
    'X-Api-Key: k-123',
    '-H',
    'Cookie: sid=abc',
    '-H',
    'X-Test: shown',
  ]);
  assert.equal(code, 0);
  const request = JSON.parse(stdout).targets[0].steps.find(
    (step: { step: string }) => step.step === 'request',
  );
  const shown = Object.fromEntries(
    request.facts.headers.map(([name, value]: [string, string]) => [name.toLowerCase(), value]),
  );
  assert.deepEqual(
    [shown.authorization, shown['x-api-key'], shown.cookie, shown['x-test']],
    ['***', '***', '***', 'shown'],
  );
  assert.doesNotMatch(stdout, /s3cret|k-123|sid=abc/);
  const sent = echo.received.findLast((r) => r.path === '/creds');
  assert.deepEqual(
    [sent?.headers.authorization, sent?.headers['x-api-key'], sent?.headers.cookie],
    ['Bearer s3cret-token', 'k-123', 'sid=abc'],
  );
});

// Node's timers hold 2^31 - 1 ms: one asked for longer fires after 1 ms, so `--timeout 9999999s`
// judged a healthy but not instant upstream "no response head after 1 ms" (504), a lie.
test('a timeout past the longest a timer waits (596h, as in the config) is refused with 64, not armed', async () => {
  for (const option of ['--connect-timeout', '--timeout', '--read-timeout']) {
    const { code, stdout, stderr } = await run([`${echo.url}/`, option, '9999999s']);
    assert.equal(code, 64, stdout);
    assert.equal(
      stderr,
      `candor: ${option} is longer than 596h, the longest a timer waits; got "9999999s"\nRun "candor diagnose --help" for usage.\n`,
    );
  }
});

// `--path '/a b'` wrote "GET /a b HTTP/1.1": the upstream's 400 to a request line the gateway
// never sends was judged "none needed", exit 0. `--host 'a b'` wrote "Host: a b", a Host the
// gateway refuses from any client. A TARGET on port 0 was probed on port 80, its heading still
// saying :0. Each is the command line's fault: 64, and nothing reaches the target.
test('a --path or --host the gateway would never send, and a port 0, are refused with 64 before any probe', async () => {
  const echoed = echo.received.length;
  const cases: Array<[string[], RegExp]> = [
    [
      ['--path', '/a b', `${echo.url}/`],
      /^candor: --path "\/a b" is not a request target the gateway sends \(visible ASCII only\): percent-encode a space as %20, and a character past ASCII\n/,
    ],
    [['--path', '/caf\u00e9', `${echo.url}/`], /^candor: --path "\/caf\u00e9" is not a request target/],
    [
      ['--host', 'a b', `${echo.url}/`],
      /^candor: --host "a b" is not a host\[:port\] \(not a host\[:port\]\)\n/,
    ],
    [
      ['--host', 'x.example:99999', `${echo.url}/`],
      /^candor: --host "x\.example:99999" is not a host\[:port\] \(port out of range\)\n/,
    ],
    [
      ['http://127.0.0.1:0/'],
      /^candor: TARGET "http:\/\/127\.0\.0\.1:0\/" names port 0, which is no port to connect to\n/,
    ],
  ];
  const results = await Promise.all(cases.map(([args]) => run(args)));
  results.forEach(({ code, stdout, stderr }, i) => {
    assert.equal(code, 64, `${cases[i][0].join(' ')}: ${stdout}`);
    assert.equal(stdout, '');
    assert.match(stderr, cases[i][1]);
  });
  assert.equal(echo.received.length, echoed, 'nothing reached the target');
});

// The probe sends no body: `-H 'Content-Length: 5'` promised five bytes that never came, so a
// healthy upstream waited for them and was judged "too slow or stuck" (504, exit 2).
test('a -H Content-Length or Transfer-Encoding is refused with 64: the probe sends no body to frame', async () => {
  const echoed = echo.received.length;
  for (const field of ['Content-Length: 5', 'transfer-encoding: chunked']) {
    const { code, stdout, stderr } = await run(['-X', 'POST', '-H', field, `${echo.url}/`]);
    assert.equal(code, 64, stdout);
    const name = field.slice(0, field.indexOf(':'));
    assert.equal(
      stderr,
      `candor: --header ${name}: the probe sends no body, so it frames none itself (Content-Length: 0 on a POST, PUT or PATCH); a ${name} of yours would promise one that never comes\nRun "candor diagnose --help" for usage.\n`,
    );
  }
  assert.equal(echo.received.length, echoed, 'nothing reached the target');
});
