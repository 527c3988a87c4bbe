/**
 * Acceptance cases for the failure contract (DESIGN.md) where two things meet: a failure on the
 * second target after a retry, a failure answered to a HEAD or to an HTTP/1.0 client, a failure
 * mid-body to a client that can only tell a cut by how the connection ends, an upstream that
 * answers before it has read the upload, a 1xx then death. Real upstreams misbehave on raw sockets.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, test } from 'node:test';
import { assertGatewayError, onlyLogLine, parseProxyStatus } from '../helpers/gateway-error.ts';
import { request } from '../helpers/http-client.ts';
import { scriptedRoute } from '../helpers/scripted-route.ts';
import { freePort } from '../helpers/wait.ts';

const { upstreamOf, gatewayTo, closeAfter } = scriptedRoute();

/** What a raw client got until the gateway ended the connection, and how it ended it. */
function exchange(
  port: number,
  bytes: string | Buffer,
  more?: (socket: net.Socket) => void,
): Promise<{ raw: string; ended: 'fin' | 'reset' | 'open' }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const done = (ended: 'fin' | 'reset' | 'open') => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ raw: Buffer.concat(chunks).toString('latin1'), ended });
    };
    const timer = setTimeout(() => done('open'), 5000);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => done('fin'));
    socket.on('error', () => done('reset'));
    socket.write(bytes);
    more?.(socket);
  });
}

const triesOf = (line: Record<string, unknown>) =>
  (line.tries as { target: string; error?: string; status?: number }[]).map((t) => [
    t.target,
    t.error ?? t.status,
  ]);

describe('a failure on the second target, after a retry', () => {
  test('refused, then garbage: 502 http_protocol_error of the second, the log naming both', async () => {
    const refused = `http://127.0.0.1:${await freePort()}`;
    const garbage = await upstreamOf((s) => s.end('SSH-2.0-OpenSSH_9.6\r\n'));
    const gw = await gatewayTo([refused, garbage.url], '    retries: { attempts: 2 }');
    const res = await request(gw.url, { headers: { accept: 'application/problem+json' } });
    const id = assertGatewayError(res, {
      status: 502,
      error: 'http_protocol_error',
      nextHop: 'app',
      retryAfter: null,
      format: 'problem+json',
    });
    assert.equal(garbage.requests.length, 1);
    const line = await onlyLogLine(gw, id);
    assert.equal(line.status, 502);
    assert.equal(line.error, 'http_protocol_error');
    assert.equal(line.shape, 'garbage');
    assert.equal(line.upstream, 'app');
    assert.equal(line.target, garbage.url);
    assert.equal(line.attempts, 2);
    assert.deepEqual(triesOf(line), [
      [refused, 'connection_refused'],
      [garbage.url, 'http_protocol_error'],
    ]);
  });

  test('reset before the head, then silence: 504 http_response_timeout, no Retry-After, shape slow', async () => {
    const reset = await upstreamOf((s) => s.resetAndDestroy());
    const silent = await upstreamOf(() => {});
    const gw = await gatewayTo(
      [reset.url, silent.url],
      '    retries: { attempts: 2 }\n    timeouts: { response: 300ms }',
    );
    const res = await request(gw.url, { headers: { accept: 'text/html' } });
    const id = assertGatewayError(res, {
      status: 504,
      error: 'http_response_timeout',
      nextHop: 'app',
      retryAfter: null,
      format: 'html',
    });
    const line = await onlyLogLine(gw, id);
    assert.equal(line.status, 504);
    assert.equal(line.shape, 'slow');
    assert.equal(line.target, silent.url);
    assert.deepEqual(triesOf(line), [
      [reset.url, 'connection_terminated'],
      [silent.url, 'http_response_timeout'],
    ]);
  });

  test('a HEAD refused, then cut before the head: 502 connection_terminated with no body', async () => {
    const refused = `http://127.0.0.1:${await freePort()}`;
    const cut = await upstreamOf((s) => s.end('HTTP/1.1 200 OK\r\nContent-Le'));
    const gw = await gatewayTo([refused, cut.url], '    retries: { attempts: 2 }');
    const res = await request(gw.url, { method: 'HEAD' });
    const id = assertGatewayError(res, {
      status: 502,
      error: 'connection_terminated',
      nextHop: 'app',
      retryAfter: null,
      head: true,
    });
    assert.match(cut.requests[0].head, /^HEAD \/ HTTP\/1\.1\r\n/);
    const line = await onlyLogLine(gw, id);
    assert.equal(line.method, 'HEAD');
    assert.equal(line.shape, 'reset');
    assert.equal(line.target, cut.url);
  });
});

describe('which failure is told when each try failed differently', () => {
  test('a per-try timeout, then a refusal: the last try is the answer, 502 connection_refused', async () => {
    const silent = await upstreamOf(() => {});
    const refused = `http://127.0.0.1:${await freePort()}`;
    const gw = await gatewayTo(
      [silent.url, refused],
      '    retries: { attempts: 2, per_try_timeout: 300ms }\n    timeouts: { response: 2s }',
    );
    const res = await request(gw.url);
    const id = assertGatewayError(res, {
      status: 502,
      error: 'connection_refused',
      nextHop: 'app',
      retryAfter: null,
    });
    const line = await onlyLogLine(gw, id);
    assert.equal(line.shape, 'unreachable');
    assert.equal(line.stage, 'not_sent');
    assert.deepEqual(triesOf(line), [
      [silent.url, 'http_response_timeout'],
      [refused, 'connection_refused'],
    ]);
  });
});

describe("the log's waits tell a slow first byte from a slow body", () => {
  test('no head: 504, connect_ms and no ttfb_ms; a stalled body: the 200 cut, ttfb_ms there', async () => {
    const up = await upstreamOf((s, req) => {
      if (req.head.startsWith('GET /?body ')) s.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab');
    });
    const gw = await gatewayTo(
      [up.url],
      '    retries: { attempts: 1 }\n    timeouts: { response: 300ms, read: 300ms }',
    );
    const noHead = await request(gw.url);
    const id = assertGatewayError(noHead, { status: 504, error: 'http_response_timeout', nextHop: 'app' });
    const first = await onlyLogLine(gw, id);
    assert.equal(first.shape, 'slow');
    assert.equal(first.stage, 'sent');
    assert.equal(typeof first.connect_ms, 'number');
    assert.equal(first.ttfb_ms, undefined, 'no byte of an answer came');
    const stalled = await request(gw.url, { path: '/?body' });
    assert.equal(stalled.status, 200);
    assert.equal(stalled.aborted, true);
    assert.equal(stalled.headers['proxy-status'], undefined, 'the head went before the failure');
    const second = await onlyLogLine(gw, stalled.headers['x-request-id'] as string);
    assert.equal(second.error, 'connection_read_timeout');
    assert.equal(second.shape, 'slow');
    assert.equal(second.stage, 'body_streaming');
    assert.equal(typeof second.ttfb_ms, 'number');
  });
});

describe('an HTTP/1.0 client', () => {
  test('an invalid status line: a 502 framed by its length, Proxy-Status, and the connection closed', async () => {
    const up = await upstreamOf((s) => s.end('HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n'));
    const gw = await gatewayTo([up.url], '    retries: { attempts: 1 }');
    const got = await exchange(gw.port, 'GET / HTTP/1.0\r\nHost: x\r\nAccept: application/json\r\n\r\n');
    assert.match(got.raw, /^HTTP\/1\.[01] 502 /);
    assert.doesNotMatch(got.raw, /\r\ntransfer-encoding:/i);
    const head = got.raw.slice(0, got.raw.indexOf('\r\n\r\n'));
    const body = got.raw.slice(head.length + 4);
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1]);
    assert.equal(Buffer.byteLength(body, 'latin1'), length, 'the whole body, as long as it says');
    const entry = parseProxyStatus(/\r\nproxy-status: *([^\r]*)/i.exec(head)?.[1]);
    assert.equal(entry.error, 'http_protocol_error');
    assert.equal(entry.nextHop, 'app');
    assert.match(head, /\r\ncontent-type: application\/problem\+json/i);
    assert.match(head, /\r\ncache-control: no-store/i);
    const id = /\r\nx-request-id: *([^\r]*)/i.exec(head)?.[1] ?? '';
    assert.ok(body.includes(id));
    assert.equal(got.ended, 'fin');
  });

  test('a chunked answer closed mid-chunk: relayed close-delimited, then reset, never a FIN', async () => {
    const up = await upstreamOf((s) =>
      s.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel'),
    );
    const gw = await gatewayTo([up.url], '    retries: { attempts: 1 }');
    const got = await exchange(gw.port, 'GET / HTTP/1.0\r\nHost: x\r\n\r\n');
    assert.match(got.raw, /^HTTP\/1\.1 200 OK\r\n/);
    assert.doesNotMatch(got.raw, /\r\ncontent-length:|\r\ntransfer-encoding:/i);
    assert.equal(got.ended, 'reset', `ended ${got.ended}; ${JSON.stringify(got.raw)}`);
    const line = await gw.accessLine();
    assert.equal(line.status, 200);
    assert.equal(line.error, 'http_response_incomplete');
  });

  test('a Content-Length answer closed mid-body: the length relayed, so the short body shows as cut', async () => {
    const up = await upstreamOf((s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhalf'));
    const gw = await gatewayTo([up.url], '    retries: { attempts: 1 }');
    const got = await exchange(gw.port, 'GET / HTTP/1.0\r\nHost: x\r\n\r\n');
    assert.match(got.raw, /^HTTP\/1\.1 200 OK\r\n/);
    // A FIN here does not pass the answer off as whole: the length it carries says 96 bytes are missing.
    assert.match(got.raw, /\r\ncontent-length: 100\r\n/i);
    assert.ok(got.raw.endsWith('\r\n\r\nhalf'));
    assert.notEqual(got.ended, 'open');
    const line = await gw.accessLine();
    assert.equal(line.error, 'http_response_incomplete');
  });
});

describe('mid-body to an HTTP/1.1 client', () => {
  test('a Content-Length answer closed (FIN) mid-body: aborted, never whole, logged http_response_incomplete', async () => {
    const up = await upstreamOf((s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhalf'));
    const gw = await gatewayTo([up.url], '    retries: { attempts: 3 }');
    const res = await request(gw.url);
    assert.equal(res.status, 200);
    assert.equal(res.aborted, true);
    assert.equal(up.requests.length, 1, 'never retried after the head');
    const line = await onlyLogLine(gw, res.headers['x-request-id'] as string);
    assert.equal(line.status, 200);
    assert.equal(line.error, 'http_response_incomplete');
    assert.equal(line.target, up.url);
  });
});

describe('1xx then death', () => {
  test('100 Continue to an upload, then a close: 502 connection_terminated, not retried', async () => {
    const up = await upstreamOf((s) => s.end('HTTP/1.1 100 Continue\r\n\r\n'));
    const gw = await gatewayTo([up.url, up.url], '    retries: { attempts: 2 }');
    const res = await request(gw.url, { method: 'POST', body: 'order=1', headers: { accept: 'text/plain' } });
    const id = assertGatewayError(res, {
      status: 502,
      error: 'connection_terminated',
      nextHop: 'app',
      retryAfter: null,
      format: 'text',
    });
    assert.equal(up.requests.length, 1);
    const line = await onlyLogLine(gw, id);
    assert.equal(line.shape, 'reset');
  });

  test('103s trickled past timeouts.response: 504 http_response_timeout', async () => {
    const timers = new Set<NodeJS.Timeout>();
    closeAfter(async () => {
      for (const t of timers) clearInterval(t);
    });
    const up = await upstreamOf((s) => {
      const t = setInterval(() => {
        if (s.writable) s.write('HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n');
      }, 50);
      timers.add(t);
      s.on('close', () => clearInterval(t));
    });
    const gw = await gatewayTo([up.url], '    retries: { attempts: 1 }\n    timeouts: { response: 400ms }');
    const res = await request(gw.url);
    const id = assertGatewayError(res, {
      status: 504,
      error: 'http_response_timeout',
      nextHop: 'app',
      retryAfter: null,
    });
    const line = await onlyLogLine(gw, id);
    assert.equal(line.shape, 'slow');
  });
});

describe('an upstream that answers before it has read the upload', () => {
  /** A raw upstream that answers each request head with `answer` at once and closes, reading nothing more. */
  async function earlyAnswerer(answer: string): Promise<{ url: string; heads: string[] }> {
    const heads: string[] = [];
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
      let seen = '';
      socket.on('data', (chunk: Buffer) => {
        if (heads.length > 0 && seen === '\0') return;
        seen += chunk.toString('latin1');
        const end = seen.indexOf('\r\n\r\n');
        if (end === -1) return;
        heads.push(seen.slice(0, end));
        seen = '\0';
        socket.end(answer);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closeAfter(
      () =>
        new Promise<void>((resolve) => {
          for (const s of sockets) s.destroy();
          server.close(() => resolve());
        }),
    );
    return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, heads };
  }

  test('its 413 and close reach the client as its own status, never a 502', async () => {
    const up = await earlyAnswerer(
      'HTTP/1.1 413 Content Too Large\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbig',
    );
    const gw = await gatewayTo([up.url], '    retries: { attempts: 1 }');
    const size = 4 * 1024 * 1024;
    const got = await exchange(
      gw.port,
      `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\nConnection: close\r\n\r\n`,
      (socket) => {
        const chunk = Buffer.alloc(64 * 1024, 0x61);
        let sent = 0;
        const pump = () => {
          while (sent < size && !socket.destroyed) {
            sent += chunk.length;
            if (!socket.write(chunk)) return void socket.once('drain', pump);
          }
        };
        socket.on('connect', pump);
      },
    );
    assert.equal(up.heads.length, 1);
    assert.match(got.raw, /^HTTP\/1\.1 413 /, JSON.stringify(got.raw.slice(0, 400)));
    assert.ok(got.raw.endsWith('\r\n\r\nbig'), JSON.stringify(got.raw.slice(-200)));
    const line = await gw.accessLine();
    assert.equal(line.status, 413);
  });
});
