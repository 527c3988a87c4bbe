/**
 * Acceptance cases for the command line as an operator meets it: `candor check` names the file,
 * line and field of each problem; `candor diagnose` says of a misbehaving upstream what the
 * gateway really does with it (the same type, the same status, the same stage); `candor explain`
 * reads the gateway's own log and counts what happened. Each runs bin/candor.js as a process.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from '../helpers/http-client.ts';
import { type ScriptedUpstream, scriptedUpstream } from '../helpers/scripted-upstream.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { singleUpstream, startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';

const BIN = join(import.meta.dirname, '../../bin/candor.js');
const dir = tempDir('candor-tools-truth-');

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function candor(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
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

describe('candor check', () => {
  test('names the file, the line and column, and the field of every problem, in one pass', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      `name: edge-1
listen:
  - address: 127.0.0.1:8080
routes:
  - match: { path: /api }
    upstream: ap
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:3000
    timeouts: { connect: 30 }
    retries:
      on: [connection_refused, connection_reset]
    circuit_breaker: { open_time: 0s }
    retrys: {}
`,
    );
    const run = await candor(['check', file]);
    assert.equal(run.code, 78, 'an invalid config exits 78 (EX_CONFIG)');
    const out = run.stdout + run.stderr;
    assert.match(
      out,
      new RegExp(
        `${file}:6:\\d+ +routes\\[0\\]\\.upstream: no upstream named 'ap' \\(did you mean 'app'\\?\\)`,
      ),
    );
    assert.match(
      out,
      new RegExp(`${file}:11:\\d+ +upstreams\\.app\\.timeouts\\.connect: expected a duration[^\\n]*got 30`),
    );
    assert.match(
      out,
      new RegExp(
        `${file}:13:\\d+ +upstreams\\.app\\.retries\\.on\\[1\\]: expected one of [^\\n]*got "connection_reset"`,
      ),
    );
    assert.match(
      out,
      new RegExp(`${file}:14:\\d+ +upstreams\\.app\\.circuit_breaker\\.open_time: [^\\n]*got "0s"`),
    );
    assert.match(
      out,
      new RegExp(
        `${file}:15:\\d+ +upstreams\\.app\\.retrys: unknown field 'retrys' \\(did you mean 'retries'\\?\\)`,
      ),
    );
    assert.match(out, /5 problems in /);
  });
});

describe('candor diagnose tells what the gateway does', () => {
  /** Each misbehaviour, and what the gateway's answer to it is: its status, and the type it logs. */
  const CASES: Record<string, { answer: string | 'reset'; status: number; type?: string; exit: number }> = {
    '/two-lengths': {
      answer: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
      status: 502,
      type: 'http_response_content_length',
      exit: 2,
    },
    '/length-and-chunked': {
      answer:
        'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
      status: 502,
      type: 'http_response_transfer_coding',
      exit: 2,
    },
    '/close-mid-chunk': {
      answer: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel',
      status: 200,
      type: 'http_response_incomplete',
      exit: 2,
    },
    '/bad-chunk-size': {
      answer: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n',
      status: 200,
      type: 'http_response_transfer_coding',
      exit: 2,
    },
    '/unasked-101': {
      answer: 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
      status: 502,
      type: 'http_protocol_error',
      exit: 2,
    },
    '/reset': { answer: 'reset', status: 502, type: 'connection_terminated', exit: 2 },
    '/http10-no-length': {
      answer: 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello',
      status: 200,
      exit: 0,
    },
    '/own-503': {
      answer: 'HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\nContent-Length: 4\r\n\r\nbusy',
      status: 503,
      exit: 1,
    },
  };

  let upstream: ScriptedUpstream;
  let gw: TestGateway;
  before(async () => {
    upstream = await scriptedUpstream((socket, req) => {
      const path = /^\S+ (\S+)/.exec(req.head)?.[1] ?? '';
      const answer = CASES[path]?.answer ?? `HTTP/1.1 200 OK\r\nContent-Length: ${8 + 100_000}\r\n\r\n`;
      if (path === '/chunked-in-http10') {
        socket.end('HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\ngood\r\n0\r\n\r\n');
      } else if (path === '/huge-head') {
        socket.end(
          `HTTP/1.1 200 OK\r\nX-Small: 1\r\nX-Big: ${'a'.repeat(100_000)}\r\nContent-Length: 0\r\n\r\n`,
        );
      } else if (answer === 'reset') socket.resetAndDestroy();
      else socket.end(answer);
    });
    gw = await startTestGateway(singleUpstream(upstream.url, { upstream: '    retries: { attempts: 1 }' }));
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  for (const [path, expected] of Object.entries(CASES)) {
    test(`${path}: the same status, type and exit status as the gateway's answer`, async () => {
      const res = await request(gw.url, { path });
      assert.equal(res.status, expected.status, 'the gateway, first');
      const line = await gw.logFor(res.headers['x-request-id'] as string);
      assert.equal(line.error, expected.type);

      const run = await candor(['diagnose', '--json', `${upstream.url}${path}`]);
      const report = JSON.parse(run.stdout);
      assert.equal(run.code, expected.exit, run.stdout.slice(0, 2000));
      const verdict = report.targets[0].verdict;
      assert.equal(verdict.failure?.type, expected.type, JSON.stringify(verdict));
      if (expected.type === undefined) {
        assert.equal(verdict.status, expected.status, 'the status the gateway passes on');
      } else if (line.stage === 'body_streaming') {
        // The head went on: the client gets the upstream's status, then a transfer cut short.
        assert.equal(verdict.failure.stage, 'body_streaming');
        assert.equal(verdict.status, expected.status);
      } else {
        assert.equal(verdict.failure.status, expected.status, 'the status the gateway answers');
        assert.match(verdict.summary, new RegExp(`Candor answers ${expected.status}`));
      }
    });
  }

  test('a framing fault gets the fix that fits it, not "never both" where there was no both', async () => {
    const chunked10 = await candor(['diagnose', `${upstream.url}/chunked-in-http10`]);
    assert.match(chunked10.stdout, /Transfer-Encoding in an HTTP\/1\.0 response/);
    assert.match(chunked10.stdout, /fix: .*HTTP\/1\.1/);
    assert.doesNotMatch(chunked10.stdout, /never both/);
    const badChunk = await candor(['diagnose', `${upstream.url}/bad-chunk-size`]);
    assert.match(badChunk.stdout, /invalid chunk size "zz"/);
    assert.match(badChunk.stdout, /fix: .*chunk/);
    assert.doesNotMatch(badChunk.stdout, /never both/);
    const both = await candor(['diagnose', `${upstream.url}/length-and-chunked`]);
    assert.match(both.stdout, /fix: .*never both/, 'where there was both, it says so');
  });

  test('a header section over the limit: the largest field is named, and its size not understated', async () => {
    const res = await request(gw.url, { path: '/huge-head' });
    assert.equal(res.status, 502);
    const run = await candor(['diagnose', `${upstream.url}/huge-head`]);
    assert.equal(run.code, 2);
    assert.match(run.stdout, /http_response_header_section_size → Candor answers 502/);
    const named = /The largest field is (\S+) \(([^)]*)\)/.exec(run.stdout);
    assert.ok(named, run.stdout);
    assert.equal(named[1], 'X-Big');
    // The probe stops reading past the limit: the line it has is only the start of the field,
    // so an exact count would be untrue (the field is 100,007 bytes).
    assert.match(named[2], /^at least \d+ bytes: the probe stopped reading inside it$/);
  });
});

describe('candor explain reads the gateway’s own log', () => {
  test('counts the statuses, and each failure by its type and status as logged', async () => {
    const upstream = await scriptedUpstream((socket, req) => {
      const path = /^\S+ (\S+)/.exec(req.head)?.[1] ?? '';
      if (path === '/reset') socket.resetAndDestroy();
      else if (path === '/garbage') socket.end('SSH-2.0-OpenSSH_9.6\r\n');
      else if (path === '/cut') socket.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab');
      else if (path === '/own') socket.write('HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n');
      else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    });
    const gw = await startTestGateway(
      singleUpstream(upstream.url, { upstream: '    retries: { attempts: 1 }' }),
    );
    try {
      for (const path of ['/ok', '/reset', '/reset', '/garbage', '/cut', '/own', '/ok']) {
        await request(gw.url, { path });
      }
      await gw.accessLine(7);
      const file = join(dir, 'gateway.log');
      writeFileSync(file, `${gw.logs.map((line) => JSON.stringify(line)).join('\n')}\n`);
      const run = await candor(['explain', '--json', file]);
      assert.equal(run.code, 0, run.stderr);
      const report = JSON.stringify(JSON.parse(run.stdout));
      const text = (await candor(['explain', file])).stdout;
      assert.match(text, /7 requests/);
      assert.match(text, /\n {2}200 +3 /, 'two 200s and the one cut short');
      assert.match(text, /\n {2}500 +1 /);
      assert.match(text, /\n {2}502 +3 /);
      assert.match(text, /connection_terminated +2 +502 +502×2/);
      assert.match(
        text,
        /http_response_incomplete +1 +502 +200×1/,
        'cut after its head: logged as the 200 it was',
      );
      assert.match(text, /http_protocol_error +1 +502 +502×1/);
      assert.ok(report.includes('connection_terminated'));
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
});
