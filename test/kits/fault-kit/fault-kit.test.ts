/**
 * Self-tests of the fault kit: each server misbehaves as its factory says, records what it
 * received, and closes without hanging. Plain node:net / node:http / node:tls clients only.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect, type Socket } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import {
  startBadFraming,
  startHtmlWithoutStatusLine,
  startHugeHeader,
  startInvalidHeader,
  startInvalidStatusLine,
  startJsonNotHttp,
  startNotModifiedWithLength,
  startRedis,
  startSmtpBanner,
  startSshBanner,
  startStackTrace,
} from '../../../src/kits/fault-kit/garbage-faults.ts';
import {
  type EchoBody,
  patternBytes,
  startEcho,
  startIdleCloser,
} from '../../../src/kits/fault-kit/http-servers.ts';
import { startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import {
  startCloseBeforeHead,
  startCloseDelimited,
  startCloseDelimitedThenReset,
  startCloseMidBody,
  startCloseMidHead,
  startResetBeforeHead,
  startResetMidBody,
} from '../../../src/kits/fault-kit/reset-faults.ts';
import {
  startBlackhole,
  startHeadThenStall,
  startSlowReader,
  startStallChunked,
} from '../../../src/kits/fault-kit/slow-faults.ts';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import {
  startClientCertificateRequired,
  startExpiredCertificate,
  startHttpsEcho,
  startPlainOnTlsPort,
  startSelfSignedCertificate,
  startTlsOnPlainPort,
  startWrongHostCertificate,
} from '../../../src/kits/fault-kit/tls-faults.ts';
import {
  startRefusing,
  startUnaccepting,
  UNRESOLVABLE_HOST,
} from '../../../src/kits/fault-kit/unreachable-faults.ts';

const GET = 'GET /probe?x=1 HTTP/1.1\r\nHost: upstream.test\r\nX-Trace: abc\r\n\r\n';
const POST = 'POST /upload HTTP/1.1\r\nHost: upstream.test\r\nContent-Length: 5\r\n\r\nhello';

async function started<F extends Fault>(t: TestContext, fault: Promise<F>): Promise<F> {
  const f = await fault;
  t.after(() => f.close());
  return f;
}

interface Exchange {
  data: Buffer;
  /** How the server ended it: FIN, RST, or still open when the client gave up waiting. */
  end: 'fin' | 'reset' | 'open';
  text: string;
}

interface ExchangeOptions {
  /**
   * A pattern: wait until the answer matches it before judging that nothing more comes.
   * `'end'`: the server is expected to hang up, so wait for its FIN or RST and judge no quiet at
   * all (on a loaded machine the server's hang-up can come later than any quiet wait; 'open'
   * then means it did not come within 5 s).
   */
  until?: RegExp | 'end';
  /** How long without new bytes (once `until` matched) counts as "the server went quiet" (default 100). */
  quietMs?: number;
}

/**
 * Connects, sends `request`, and collects the answer until the server closes, or until it
 * matched `until` and then stayed quiet for `quietMs` (5 s at most).
 */
function exchange(
  port: number,
  request: string | undefined,
  options: ExchangeOptions = {},
): Promise<Exchange> {
  const quietMs = options.quietMs ?? 100;
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let quiet: NodeJS.Timeout | undefined;
    const cap = setTimeout(() => done('open'), 5000);
    const done = (end: Exchange['end']): void => {
      clearTimeout(quiet);
      clearTimeout(cap);
      socket.destroy();
      const data = Buffer.concat(chunks);
      resolve({ data, end, text: data.toString('latin1') });
    };
    // The quiet wait starts once the request is out, so a busy machine does not cut it short.
    const until = options.until;
    const armQuiet = (): void => {
      clearTimeout(quiet);
      if (until === 'end') return;
      if (!until || until.test(Buffer.concat(chunks).toString('latin1'))) {
        quiet = setTimeout(() => done('open'), quietMs);
      }
    };
    socket.on('connect', () => {
      if (request === undefined) armQuiet();
      else socket.write(request, armQuiet);
    });
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      armQuiet();
    });
    socket.on('end', () => done('fin'));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNRESET') done('reset');
      else {
        clearTimeout(quiet);
        clearTimeout(cap);
        reject(error);
      }
    });
  });
}

interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
  trailers: NodeJS.Dict<string>;
  informational: number[];
}

function fetchHttp(
  url: string,
  options: {
    method?: string;
    body?: string | Buffer;
    headers?: Record<string, string>;
    tls?: ConnectionOptions;
  } = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const informational: number[] = [];
    const req = send(
      target,
      { method: options.method ?? 'GET', headers: options.headers, agent: false, ...options.tls },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            body: Buffer.concat(chunks),
            trailers: res.trailers,
            informational,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('information', (info) => informational.push(info.statusCode));
    req.on('error', reject);
    req.end(options.body);
  });
}

function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
    }),
  ]);
}

describe('request recording', () => {
  it('parses method, path, headers, a Content-Length body, and keeps the raw bytes', async (t) => {
    const fault = await started(t, startBlackhole());
    await exchange(fault.port, POST, { quietMs: 50 });
    const request = await fault.waitForRequest(1, { body: true });
    assert.equal(request.method, 'POST');
    assert.equal(request.path, '/upload');
    assert.equal(request.httpVersion, '1.1');
    assert.deepEqual(request.rawHeaders, [
      ['Host', 'upstream.test'],
      ['Content-Length', '5'],
    ]);
    assert.equal(request.headers['content-length'], '5');
    assert.equal(request.body.toString(), 'hello');
    assert.equal(request.bodySha256, createHash('sha256').update('hello').digest('hex'));
    assert.equal(request.raw.toString('latin1'), POST);
    assert.equal(request.connection, 1);
    assert.equal(fault.connections, 1);
  });

  it('de-chunks a chunked body with trailers, joins repeated headers, and parses pipelined requests', async (t) => {
    const fault = await started(t, startBlackhole());
    const chunked =
      'PUT /c HTTP/1.1\r\nHost: h\r\nVia: 1.1 a\r\nvia: 1.1 b\r\nTransfer-Encoding: chunked\r\n\r\n' +
      '3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Sum: 5\r\n\r\n';
    await exchange(fault.port, chunked + GET, { quietMs: 50 });
    const first = await fault.waitForRequest(1, { body: true });
    assert.equal(first.body.toString(), 'abcde');
    assert.equal(first.headers.via, '1.1 a, 1.1 b');
    assert.deepEqual(first.trailers, [['X-Sum', '5']]);
    const second = await fault.waitForRequest(2, { body: true });
    assert.equal(second.method, 'GET');
    assert.equal(second.path, '/probe?x=1');
    assert.equal(second.headers['x-trace'], 'abc');
    assert.equal(second.bodyLength, 0);
  });

  it('keeps non-HTTP bytes in firstBytes and records no request', async (t) => {
    const fault = await started(t, startBlackhole());
    await exchange(fault.port, '\x16\x03\x01\x00\x05hello', { quietMs: 50 });
    const connection = await fault.waitForConnection(1);
    assert.equal(connection.firstBytes.subarray(0, 2).toString('hex'), '1603');
    assert.equal(fault.received.length, 0);
  });

  it('sees the client hang up (FIN) on a stalled request', async (t) => {
    const fault = await started(t, startBlackhole());
    await exchange(fault.port, GET, { quietMs: 30 });
    const connection = await fault.waitForConnection(1);
    assert.equal(await within(1000, connection.ended, 'connection end'), 'fin');
  });

  it('rejects waitForRequest after its timeout, and when the server closes', async () => {
    const fault = await startBlackhole();
    await assert.rejects(fault.waitForRequest(1, { timeoutMs: 20 }), /timed out after 20 ms/);
    const pending = fault.waitForRequest(2);
    await fault.close();
    await assert.rejects(pending, /server closed/);
  });

  it('lets a test script its own raw misbehaviour', async (t) => {
    const fault = await started(
      t,
      startRawFault(async (connection) => {
        const request = await connection.nextRequest();
        await connection.end(
          `HTTP/1.1 418 I'm a teapot\r\nContent-Length: ${request.path.length}\r\n\r\n${request.path}`,
        );
      }),
    );
    const answer = await exchange(fault.port, GET, { until: 'end' });
    assert.match(answer.text, /^HTTP\/1.1 418 .*\/probe\?x=1$/s);
    assert.equal(answer.end, 'fin');
  });
});

describe('close()', () => {
  it('destroys open sockets and resolves at once, even with stalled clients; twice is fine', async () => {
    const https = await startHttpsEcho();
    const faults = [await startBlackhole(), await startHeadThenStall(), await startEcho(), https];
    const clients: Socket[] = [];
    for (const fault of faults.slice(0, 3)) {
      const socket = connect(fault.port, '127.0.0.1');
      socket.on('error', () => {});
      socket.resume();
      socket.write(GET);
      clients.push(socket);
      await fault.waitForRequest(1);
    }
    // A TLS client mid-request: the TLS layer sits on the tracked socket.
    const secure = tlsConnect({ host: '127.0.0.1', port: https.port, ca: https.ca });
    secure.on('error', () => {});
    secure.resume();
    await new Promise((resolve) => secure.once('secureConnect', resolve));
    secure.write('GET /slow?delay=10000 HTTP/1.1\r\nHost: h\r\n\r\n');
    clients.push(secure);
    await https.waitForRequest(1);
    const closedByServer = clients.map((socket) => new Promise((resolve) => socket.once('close', resolve)));
    await within(1000, Promise.all(faults.map((fault) => fault.close())), 'close()');
    await within(1000, Promise.all(closedByServer), 'client sockets closing');
    await Promise.all(faults.map((fault) => fault.close()));
  });
});

describe('unreachable', () => {
  it('refusing: the connection is refused', async (t) => {
    const fault = await started(t, startRefusing());
    await assert.rejects(exchange(fault.port, GET), { code: 'ECONNREFUSED' });
    assert.equal(fault.url, `http://127.0.0.1:${fault.port}`);
  });

  it('unresolvable: the .invalid name does not resolve', async () => {
    await assert.rejects(lookup(UNRESOLVABLE_HOST), (error: NodeJS.ErrnoException) =>
      ['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL'].includes(error.code ?? ''),
    );
  });

  it('unaccepting: a connect does not complete', { skip: process.platform !== 'linux' }, async (t) => {
    const fault = await started(t, startUnaccepting());
    const socket = connect(fault.port, '127.0.0.1');
    socket.on('error', () => {});
    const connected = await new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), 200);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    socket.destroy();
    assert.equal(connected, false);
  });
});

describe('slow', () => {
  it('blackhole: reads the request, answers nothing, keeps the connection', async (t) => {
    const fault = await started(t, startBlackhole());
    const answer = await exchange(fault.port, POST);
    assert.deepEqual(answer, { data: Buffer.alloc(0), end: 'open', text: '' });
    assert.equal((await fault.waitForRequest(1, { body: true })).body.toString(), 'hello');
  });

  it('head-then-stall: a 200 head with Content-Length 100, 10 body bytes, then nothing', async (t) => {
    const fault = await started(t, startHeadThenStall());
    const answer = await exchange(fault.port, GET, { until: /x{10}$/ });
    assert.equal(answer.end, 'open');
    assert.match(answer.text, /^HTTP\/1.1 200 OK\r\n.*Content-Length: 100\r\n\r\nx{10}$/s);
    assert.equal(fault.received[0].path, '/probe?x=1');
  });

  it('stall-chunked: a chunked head and one chunk, then nothing', async (t) => {
    const fault = await started(t, startStallChunked());
    const answer = await exchange(fault.port, GET, { until: /hello\r\n$/ });
    assert.equal(answer.end, 'open');
    assert.match(answer.text, /Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n$/);
  });

  it('slow reader: takes the upload a little at a time, then answers with its length', async (t) => {
    const fault = await started(t, startSlowReader({ bytesPerTick: 16 * 1024, tickMs: 5 }));
    const size = 512 * 1024;
    const socket = connect(fault.port, '127.0.0.1');
    const answered = new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (chunk) => {
        text += chunk;
        if (text.endsWith('}')) resolve(text);
      });
    });
    socket.write(`POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: ${size}\r\n\r\n`);
    socket.write(Buffer.alloc(size, 'u'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const early = fault.bytesConsumed;
    assert.ok(early < size / 2, `consumed ${early} bytes after 20 ms`);
    assert.match(await within(3000, answered, 'the slow reader'), /\{"bytes":524288\}$/);
    assert.ok(fault.bytesConsumed >= size);
    socket.destroy();
  });
});

describe('reset', () => {
  it('close-before-head: reads the whole request, then FIN with no answer', async (t) => {
    const fault = await started(t, startCloseBeforeHead());
    const answer = await exchange(fault.port, POST, { until: 'end' });
    assert.deepEqual([answer.end, answer.data.length], ['fin', 0]);
    assert.equal(fault.received[0].bodyComplete, true);
  });

  it('close-before-head after the head only: the body was not awaited', async (t) => {
    const fault = await started(t, startCloseBeforeHead({ after: 'head' }));
    const answer = await exchange(
      fault.port,
      'POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc',
      { until: 'end' },
    );
    assert.equal(answer.end, 'fin');
    assert.equal(fault.received[0].bodyComplete, false);
  });

  it('reset-before-head: reads the request, then RST', async (t) => {
    const fault = await started(t, startResetBeforeHead());
    const answer = await exchange(fault.port, GET, { until: 'end' });
    assert.deepEqual([answer.end, answer.data.length], ['reset', 0]);
    assert.equal(fault.received.length, 1);
  });

  it('close-mid-head: half a head, then FIN', async (t) => {
    const fault = await started(t, startCloseMidHead());
    const answer = await exchange(fault.port, GET, { until: 'end' });
    assert.deepEqual([answer.end, answer.text], ['fin', 'HTTP/1.1 200 OK\r\nContent-Type: text/pl']);
  });

  for (const framing of ['length', 'chunked'] as const) {
    it(`reset-mid-body (${framing}): the head and 100 body bytes, then RST`, async (t) => {
      const fault = await started(t, startResetMidBody({ framing }));
      const answer = await exchange(fault.port, GET, { until: 'end' });
      assert.equal(answer.end, 'reset');
      const [head, body] = answer.text.split('\r\n\r\n');
      assert.match(head, framing === 'length' ? /Content-Length: 1000$/ : /Transfer-Encoding: chunked$/);
      assert.equal(body, framing === 'length' ? 'x'.repeat(100) : `64\r\n${'x'.repeat(100)}\r\n`);
    });

    it(`close-mid-body (${framing}): the head and 100 body bytes, then FIN`, async (t) => {
      const fault = await started(t, startCloseMidBody({ framing, connectionClose: true }));
      const answer = await exchange(fault.port, GET, { until: 'end' });
      assert.equal(answer.end, 'fin');
      assert.match(answer.text, /Connection: close\r\n/);
      assert.ok(answer.text.endsWith('x'.repeat(100) + (framing === 'chunked' ? '\r\n' : '')));
    });
  }

  it('close-delimited: an HTTP/1.0 body without length that ends with FIN', async (t) => {
    const fault = await started(t, startCloseDelimited({ body: 'all of it' }));
    const answer = await exchange(fault.port, GET, { until: 'end' });
    assert.deepEqual(
      [answer.end, answer.text],
      ['fin', 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it'],
    );
  });

  it('close-delimited then reset: the same body, then RST', async (t) => {
    const fault = await started(t, startCloseDelimitedThenReset({ version: '1.1' }));
    const answer = await exchange(fault.port, GET, { until: 'end' });
    assert.equal(answer.end, 'reset');
    assert.match(answer.text, /^HTTP\/1.1 200 OK\r\n.*Connection: close\r\n\r\n/s);
    assert.equal(answer.text.split('\r\n\r\n')[1].length, 1000);
  });
});

describe('garbage', () => {
  it('ssh: the banner comes on connect, before any request', async (t) => {
    const fault = await started(t, startSshBanner());
    const banner = await exchange(fault.port, undefined, { until: /\r\n$/, quietMs: 50 });
    assert.deepEqual([banner.text, banner.end], ['SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n', 'open']);
    const answer = await exchange(fault.port, GET, { until: 'end' });
    assert.equal(answer.text, 'SSH-2.0-OpenSSH_9.2p1 Debian-2\r\nInvalid SSH identification string.\r\n');
    assert.equal(answer.end, 'fin');
  });

  it('smtp: the banner on connect, then a goodbye', async (t) => {
    const fault = await started(t, startSmtpBanner());
    const answer = await exchange(fault.port, GET, { until: 'end' });
    assert.match(answer.text, /^220 mail\.example\.com ESMTP Postfix\r\n221 /);
    assert.equal(answer.end, 'fin');
  });

  it('redis, JSON, stack trace, bare HTML: not a status line, then FIN', async (t) => {
    const cases: Array<[() => Promise<Fault>, RegExp]> = [
      [startRedis, /^-ERR unknown command 'GET', with args beginning with: '\/probe\?x=1' /],
      [startJsonNotHttp, /^\{"error":"not http"\}\n$/],
      [startStackTrace, /^Traceback \(most recent call last\):\n/],
      [startHtmlWithoutStatusLine, /^<!DOCTYPE html>/],
    ];
    for (const [start, expected] of cases) {
      const fault = await started(t, start());
      const answer = await exchange(fault.port, GET, { until: 'end' });
      assert.match(answer.text, expected);
      assert.equal(answer.end, 'fin');
      assert.equal(fault.received.length, 1);
    }
  });

  it('invalid header lines, as bytes', async (t) => {
    const expected = {
      'space-in-name': 'Bad Header Name: x\r\n',
      'bare-cr': 'X-Evil: a\rb\r\n',
      nul: 'X-Evil: a\0b\r\n',
      'no-colon': 'X-No-Colon-Here\r\n',
      'obs-fold': 'X-Folded: first\r\n  continued\r\n',
    } as const;
    for (const [variant, line] of Object.entries(expected)) {
      const fault = await started(t, startInvalidHeader({ variant: variant as keyof typeof expected }));
      const answer = await exchange(fault.port, GET, { until: /ok$/, quietMs: 50 });
      assert.ok(answer.text.startsWith(`HTTP/1.1 200 OK\r\n${line}`), variant);
      assert.ok(answer.text.endsWith('\r\n\r\nok'));
    }
  });

  it('invalid header after Content-Length', async (t) => {
    const fault = await started(t, startInvalidHeader({ afterContentLength: true }));
    const answer = await exchange(fault.port, GET, { until: /ok$/, quietMs: 50 });
    assert.match(answer.text, /Content-Length: 2\r\nBad Header Name: x\r\n\r\nok$/);
  });

  it('invalid status line', async (t) => {
    const fault = await started(t, startInvalidStatusLine({ variant: 'four-digit-code' }));
    assert.match(
      (await exchange(fault.port, GET, { until: /ok$/, quietMs: 50 })).text,
      /^HTTP\/1.1 2000 OK\r\n/,
    );
  });

  it('huge header: one 64 KiB header line', async (t) => {
    const fault = await started(t, startHugeHeader());
    const answer = await exchange(fault.port, GET, { until: /ok$/ });
    assert.ok(answer.text.includes(`X-Huge: ${'h'.repeat(64 * 1024)}\r\n`));
    assert.ok(answer.text.endsWith('\r\n\r\nok'));
  });

  it('bad framing variants', async (t) => {
    const expected = {
      'length-and-chunked': /Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n$/,
      'two-lengths': /Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!$/,
      'gzip-not-chunked': /Transfer-Encoding: gzip\r\n\r\n\x1f\x8b/,
      'bad-chunk-size': /Transfer-Encoding: chunked\r\n\r\nzz\r\n/,
    } as const;
    for (const [variant, pattern] of Object.entries(expected)) {
      const fault = await started(t, startBadFraming({ variant: variant as keyof typeof expected }));
      const hangsUp = variant === 'gzip-not-chunked';
      const answer = await exchange(fault.port, GET, { until: hangsUp ? 'end' : pattern, quietMs: 50 });
      assert.match(answer.text, pattern, variant);
      assert.equal(answer.end, hangsUp ? 'fin' : 'open');
    }
  });

  it('304 with Content-Length and no body, on every request of a kept-alive connection', async (t) => {
    const fault = await started(t, startNotModifiedWithLength());
    const response = 'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 1234\r\n\r\n';
    const answer = await exchange(fault.port, GET + GET, {
      until: /Not Modified.*Not Modified.*\r\n\r\n$/s,
    });
    assert.deepEqual([answer.text, answer.end], [response + response, 'open']);
    assert.equal(fault.received.length, 2);
  });
});

describe('echo server', () => {
  it('echoes method, url, raw headers, body length and sha256; records the request', async (t) => {
    const fault = await started(t, startEcho());
    const answer = await fetchHttp(`${fault.url}/echo?a=1`, {
      method: 'POST',
      body: 'payload',
      headers: { 'X-Custom': 'Yes' },
    });
    assert.equal(answer.status, 200);
    const echo = JSON.parse(answer.body.toString()) as EchoBody;
    assert.equal(echo.method, 'POST');
    assert.equal(echo.url, '/echo?a=1');
    assert.deepEqual(
      echo.rawHeaders.find(([name]) => name === 'X-Custom'),
      ['X-Custom', 'Yes'],
    );
    assert.equal(echo.bodyLength, 7);
    assert.equal(echo.bodySha256, createHash('sha256').update('payload').digest('hex'));
    const recorded = await fault.waitForRequest(1, { body: true });
    assert.equal(recorded.body.toString(), 'payload');
    assert.equal(recorded.headers['x-custom'], 'Yes');
    assert.equal(recorded.connection, 1);
  });

  it('?status and ?retry_after: its own 503 with Retry-After', async (t) => {
    const fault = await started(t, startEcho());
    const answer = await fetchHttp(`${fault.url}/?status=503&retry_after=7&header=X-From:upstream`);
    assert.equal(answer.status, 503);
    assert.equal(answer.headers['retry-after'], '7');
    assert.equal(answer.headers['x-from'], 'upstream');
  });

  it('?bytes streams a generated body; ?chunked drops the length; ?trailers adds a sha256 trailer', async (t) => {
    const fault = await started(t, startEcho());
    const sized = await fetchHttp(`${fault.url}/?bytes=100000&chunk=7000`);
    assert.equal(sized.headers['content-length'], '100000');
    assert.deepEqual(sized.body, patternBytes(100000));
    const chunked = await fetchHttp(`${fault.url}/?bytes=10&chunked=1`);
    assert.equal(chunked.headers['transfer-encoding'], 'chunked');
    assert.equal(chunked.headers['content-length'], undefined);
    const trailed = await fetchHttp(`${fault.url}/?bytes=5000&trailers=1`);
    assert.equal(trailed.headers.trailer, 'X-Body-Sha256');
    assert.equal(
      trailed.trailers['x-body-sha256'],
      createHash('sha256').update(patternBytes(5000)).digest('hex'),
    );
  });

  it('?early_hints sends a 103 first; ?delay holds the head', async (t) => {
    const fault = await started(t, startEcho());
    const hinted = await fetchHttp(`${fault.url}/?early_hints=1`);
    assert.deepEqual([hinted.informational, hinted.status], [[103], 200]);
    const begin = performance.now();
    await fetchHttp(`${fault.url}/?delay=60`);
    assert.ok(performance.now() - begin >= 55);
  });

  it('answers a WebSocket upgrade with the right accept key, then echoes raw bytes', async (t) => {
    const fault = await started(t, startEcho());
    const socket = connect(fault.port, '127.0.0.1');
    t.after(() => socket.destroy());
    socket.write(
      'GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
        'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    let text = '';
    const read = (until: (s: string) => boolean) =>
      new Promise<void>((resolve) => {
        const onData = (chunk: Buffer): void => {
          text += chunk.toString('latin1');
          if (until(text)) {
            socket.off('data', onData);
            resolve();
          }
        };
        socket.on('data', onData);
      });
    await within(
      1000,
      read((s) => s.includes('\r\n\r\n')),
      '101',
    );
    assert.match(text, /^HTTP\/1.1 101 Switching Protocols\r\n/);
    assert.match(text, /Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/); // RFC 6455's example
    text = '';
    socket.write(Buffer.from('\x81\x05hello', 'latin1'));
    await within(
      1000,
      read((s) => s.length >= 7),
      'echo',
    );
    assert.equal(text, '\x81\x05hello');
    assert.equal(fault.received[0].headers.upgrade, 'websocket');
  });

  it('declines an upgrade with ?status', async (t) => {
    const fault = await started(t, startEcho());
    const answer = await exchange(
      fault.port,
      'GET /ws?status=426 HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: x\r\n\r\n',
    );
    assert.match(answer.text, /^HTTP\/1.1 426 /);
  });
});

describe('idle closer', () => {
  for (const announce of [true, false]) {
    it(`closes an idle keep-alive socket after idleMs (announce: ${announce})`, async (t) => {
      const fault = await started(t, startIdleCloser({ idleMs: 100, announce }));
      const answer = await exchange(fault.port, GET, { until: 'end' });
      assert.equal(answer.end, 'fin');
      assert.match(answer.text, /^HTTP\/1.1 200 OK\r\n/);
      if (announce) assert.match(answer.text, /Keep-Alive: timeout=0\r\n/);
      else assert.doesNotMatch(answer.text, /Keep-Alive:/);
      const connection = fault.connectionLog[0];
      assert.equal(await connection.ended, 'local');
    });
  }
});

describe('TLS', () => {
  it('generates a CA, a localhost leaf, an expired one, a wrong-host one, a self-signed one', () => {
    const certificates = testCertificates();
    const ca = new X509Certificate(certificates.ca);
    const now = Date.now();
    const leaf = new X509Certificate(certificates.localhost.cert);
    assert.ok(leaf.verify(ca.publicKey) && leaf.checkIssued(ca));
    assert.equal(leaf.checkHost('localhost'), 'localhost');
    assert.equal(leaf.checkIP('127.0.0.1'), '127.0.0.1');
    assert.ok(Date.parse(leaf.validFrom) <= now && now < Date.parse(leaf.validTo));
    const expired = new X509Certificate(certificates.expired.cert);
    assert.ok(expired.verify(ca.publicKey));
    assert.equal(new Date(expired.validTo).toISOString(), '2020-01-02T00:00:00.000Z');
    const wrongHost = new X509Certificate(certificates.wrongHost.cert);
    assert.equal(wrongHost.checkHost('localhost'), undefined);
    assert.equal(wrongHost.checkIP('127.0.0.1'), undefined);
    assert.equal(wrongHost.subjectAltName, 'DNS:other.example');
    const selfSigned = new X509Certificate(certificates.selfSigned.cert);
    assert.ok(selfSigned.verify(selfSigned.publicKey) && !selfSigned.verify(ca.publicKey));
    assert.ok(new X509Certificate(certificates.client.cert).verify(ca.publicKey));
  });

  it('says clearly when openssl is missing', () => {
    const script = `import { testCertificates } from ${JSON.stringify(fileURLToPath(new URL('../../../src/kits/fault-kit/tls-certs.ts', import.meta.url)))};
      try { testCertificates(); } catch (error) { console.log(error.message); }`;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { PATH: '/nonexistent' },
      encoding: 'utf8',
    });
    assert.match(result.stdout, /need the `openssl` command, which is not installed/);
  });

  it('https echo: trusted with the kit CA; untrusted without it', async (t) => {
    const fault = await started(t, startHttpsEcho());
    assert.match(fault.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const answer = await fetchHttp(`${fault.url}/secure`, { tls: { ca: fault.ca } });
    assert.equal(answer.status, 200);
    assert.equal((JSON.parse(answer.body.toString()) as EchoBody).url, '/secure');
    assert.equal(fault.received[0].path, '/secure');
    assert.equal(fault.connectionLog[0].firstBytes[0], 0x16);
    await assert.rejects(fetchHttp(fault.url), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
  });

  it('certificates the client must reject', async (t) => {
    const cases: Array<[() => Promise<Fault>, string]> = [
      [startExpiredCertificate, 'CERT_HAS_EXPIRED'],
      [startWrongHostCertificate, 'ERR_TLS_CERT_ALTNAME_INVALID'],
      [startSelfSignedCertificate, 'DEPTH_ZERO_SELF_SIGNED_CERT'],
    ];
    for (const [start, code] of cases) {
      const fault = await started(t, start());
      await assert.rejects(fetchHttp(fault.url, { tls: { ca: testCertificates().ca } }), { code });
      assert.equal(fault.received.length, 0);
    }
  });

  it('client certificate required: an alert without one, a 200 with the kit client certificate', async (t) => {
    const fault = await started(t, startClientCertificateRequired({ maxVersion: 'TLSv1.2' }));
    await assert.rejects(fetchHttp(fault.url, { tls: { ca: fault.ca } }), /alert handshake failure/);
    await fault.waitForConnection(1);
    const { client } = fault.certificates;
    const answer = await fetchHttp(fault.url, { tls: { ca: fault.ca, cert: client.cert, key: client.key } });
    assert.equal(answer.status, 200);
    assert.equal(fault.received.length, 1);
    assert.match(String(fault.tlsErrors[0]), /peer did not return a certificate/i);
  });

  it('client certificate required under TLS 1.3: the alert comes after the client handshake', async (t) => {
    const fault = await started(t, startClientCertificateRequired());
    const socket = tlsConnect({ host: '127.0.0.1', port: fault.port, ca: fault.ca });
    const error = await new Promise<NodeJS.ErrnoException>((resolve) => {
      socket.on('secureConnect', () => socket.write(GET));
      socket.on('error', resolve);
    });
    assert.equal(error.code, 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
    assert.equal(fault.received.length, 0);
  });

  it('tls on a plain port: plaintext meets a TLS server, which closes; the plaintext is recorded', async (t) => {
    const fault = await started(t, startTlsOnPlainPort());
    assert.match(fault.url, /^http:\/\//);
    const answer = await exchange(fault.port, GET, { until: 'end' });
    assert.deepEqual([answer.end, answer.data.length], ['fin', 0]);
    assert.equal(fault.connectionLog[0].firstBytes.toString('latin1'), GET);
    assert.equal(fault.received.length, 0);
  });

  it('plain on a TLS port: the ClientHello gets a plaintext 400; the ClientHello is recorded', async (t) => {
    const fault = await started(t, startPlainOnTlsPort());
    assert.match(fault.url, /^https:\/\//);
    await assert.rejects(fetchHttp(fault.url), /wrong version number/);
    const connection = await fault.waitForConnection(1);
    await connection.ended;
    assert.equal(connection.firstBytes.subarray(0, 2).toString('hex'), '1603');
    // and plain HTTP still works there
    assert.equal((await fetchHttp(fault.url.replace('https:', 'http:'))).status, 200);
  });
});
