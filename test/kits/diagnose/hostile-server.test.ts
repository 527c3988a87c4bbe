/**
 * `candor diagnose` against a malicious server on loopback (issue 24, item 5): a flood of
 * interim (1xx) heads is held to the gateway's own bounds (MAX_INTERIM: the statuses of the first
 * 16 kept, the rest counted, their bytes dropped as each head ends; past the response head limit
 * in all, refused as the gateway refuses them), and nothing a server sends
 * reaches the terminal unescaped: a banner's escape sequences, a header's C1 bytes.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { diagnose } from '../../../src/kits/diagnose/diagnose.ts';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startH2 } from '../../../src/kits/fault-kit/h2-faults.ts';
import { readRequest, startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { MAX_INTERIM } from '../../../src/proxy/forward/exchange-options.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');
const faults: Fault[] = [];
after(() => Promise.all(faults.map((f) => f.close())));

const EARLY_HINTS = 'HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n';
/** Control characters a terminal acts on: C0 but the newline, DEL, C1 (CSI is U+009B). */
const TERMINAL_CONTROLS = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/;

function run(args: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'diagnose', ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.on('close', (code) => resolve({ code, stdout }));
  });
}

test('400 interim answers before the final head: 16 statuses kept, the rest counted, the gateway bound said', async () => {
  const fault = await startRawFault(async (connection) => {
    await readRequest(connection);
    await connection.write(EARLY_HINTS.repeat(400));
    await connection.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  });
  faults.push(fault);
  const report = await diagnose({ target: fault.url });
  const response = report.targets[0].steps.find((step) => step.step === 'response');
  assert.ok(response?.ok, response?.summary);
  assert.equal(response.summary.split(',')[0], 'HTTP/1.1 200 OK');
  assert.deepEqual(
    (response.facts as { informational: number[] }).informational,
    Array(MAX_INTERIM.count).fill(103),
  );
  assert.equal(
    (response.facts as { headBytes: number }).headBytes,
    'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n'.length,
  );
  assert.equal(
    response.notes[0],
    `400 interim (1xx) answers, ${Math.ceil((400 * EARLY_HINTS.length) / 1024)} KiB, before the final head: the gateway relays the first 16 (at most 64 KiB) and drops the rest, reading on until its response timeout`,
  );
  assert.equal(report.exitCode, 0);
});

for (const [name, final] of [
  ['20000 interim answers before the final head', true],
  ['an endless flood of interim answers', false],
] as const)
  test(`${name}: refused past the response head limit, as the gateway refuses it (502 http_protocol_error)`, async () => {
    const fault = await startRawFault(async (connection) => {
      await readRequest(connection);
      const batch = Buffer.from(EARLY_HINTS.repeat(1000), 'latin1');
      // Until diagnose hangs up: it used to keep every byte (825 MiB, 2.6 GiB of memory, a crash).
      for (let i = 0; (!final || i < 20) && !connection.socket.destroyed; i++)
        await connection.write(batch).catch(() => {});
      if (final) await connection.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok').catch(() => {});
    });
    faults.push(fault);
    const report = await diagnose({ target: fault.url });
    const { failure } = report.targets[0].verdict;
    const heads = Math.floor(32768 / EARLY_HINTS.length) + 1;
    assert.deepEqual(
      { type: failure?.type, details: failure?.details },
      {
        type: 'http_protocol_error',
        details: `${heads} interim (1xx) responses and no final one: their ${heads * EARLY_HINTS.length} bytes are past the response head limit of 32768`,
      },
    );
    assert.equal(report.exitCode, 2);
    // Its note said the gateway reads on "until its response timeout": it gives up at the limit.
    const response = report.targets[0].steps.at(-1);
    assert.doesNotMatch(response?.notes.join('\n') ?? '', /reading on until its response timeout/);
    assert.match(
      report.targets[0].verdict.fix,
      new RegExp(
        `^the upstream sent ${heads} interim \\(1xx\\) answers and no final one, past the gateway's response head limit \\(32 KiB\\): it speaks HTTP, but never ends`,
      ),
    );
  });

test("a banner's escape sequences, past its first 16 characters, are printed escaped, text and --json", async () => {
  const fault = await startRawFault(async (connection) => {
    await connection.end(
      Buffer.from('220 hello this is a custom banner \x1b]0;owned\x07\x1b[2J\x9b2J ok\r\n', 'latin1'),
    );
  });
  faults.push(fault);
  const text = await run([fault.url]);
  assert.equal(text.code, 2);
  assert.doesNotMatch(text.stdout, TERMINAL_CONTROLS);
  assert.ok(
    text.stdout.includes('220 hello this is a custom banner \\x1b]0;owned\\x07\\x1b[2J\\x9b2J ok'),
    text.stdout,
  );
  const json = await run(['--json', fault.url]);
  assert.doesNotMatch(json.stdout, TERMINAL_CONTROLS);
});

test("a header value's C1 bytes (a CSI) are printed escaped", async () => {
  const fault = await startRawFault(async (connection) => {
    await readRequest(connection);
    await connection.end(
      Buffer.from('HTTP/1.1 200 OK\r\nX-Evil: a\x9b2Jb\r\nContent-Length: 0\r\n\r\n', 'latin1'),
    );
  });
  faults.push(fault);
  const text = await run([fault.url]);
  assert.equal(text.code, 0);
  assert.doesNotMatch(text.stdout, TERMINAL_CONTROLS);
  assert.match(text.stdout, /X-Evil: a\\x9b2Jb\n/);
});

// A few interim answers, then silence: the gateway's 504 says "no final response head after …,
// only 3 interim (1xx) answers", an upstream alive and stuck in its handler. Over HTTP/1.1 the
// probe said "no response head" and the fix "sent no response head": a silent upstream.
for (const protocol of ['http1', 'h2c'] as const)
  test(`${protocol}: three interim answers, then silence: the head timeout counts them, as the gateway's 504 does`, async () => {
    const fault =
      protocol === 'http1'
        ? await startRawFault(async (connection) => {
            await readRequest(connection);
            await connection.write(EARLY_HINTS.repeat(3));
          })
        : await startH2((stream) => {
            for (let i = 0; i < 3; i++) stream.additionalHeaders({ ':status': 103 });
          });
    faults.push(fault);
    const upstream = `    protocol: ${protocol}\n    timeouts: { response: 300ms }\n    retries: { attempts: 1 }`;
    const gw = await startTestGateway(singleUpstream(fault.url, { upstream }));
    after(() => gw.close());
    const answered = await fetch(gw.url);
    assert.equal(answered.status, 504);
    assert.match(
      answered.headers.get('proxy-status') ?? '',
      /error=http_response_timeout; details="no final response head \(response timeout of 300 ms\) after \d+ ms, only 3 interim \(1xx\) answers"/,
    );
    const report = await diagnose({ target: fault.url, protocol, answerTimeout: 300 });
    const { verdict } = report.targets[0];
    assert.equal(report.exitCode, 2);
    assert.equal(verdict.failure?.type, 'http_response_timeout');
    assert.equal(verdict.status, 504);
    assert.match(
      verdict.failure?.details ?? '',
      /^no final response head \(response timeout of 300 ms\) after \d+ ms, only 3 interim \(1xx\) answers$/,
    );
    assert.equal(
      verdict.fix,
      'the upstream took the request and sent 3 interim (1xx) answers, but no final response head in 300 ms (the response timeout): it is alive, and stuck or slow in its handler. Find what it waits on (a slow query, a lock, CPU); raise timeouts.response only if the work is legitimately that slow.',
    );
  });
