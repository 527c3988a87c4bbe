/**
 * Heads from a hostile or careless upstream reach the client only through the one head
 * builder: Trailer fields that the downstream framing cannot honour, interim floods, Link
 * lists in 103 Early Hints, and a failed head write never desynchronise a kept-alive client.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { rawUntil, request } from '../../helpers/http-client.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';

test('a 204 or 304 announcing a Trailer reaches the client without it, and the kept-alive connection stays in step', async () => {
  const upstream = await startRawFault(async (c) => {
    for (;;) {
      const { path } = await c.nextRequest();
      if (path === '/204') await c.write('HTTP/1.1 204 No Content\r\ntrailer: x-checksum\r\n\r\n');
      else if (path === '/304')
        await c.write('HTTP/1.1 304 Not Modified\r\ntrailer: x-checksum\r\netag: "a"\r\n\r\n');
      else await c.write('HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\nsecond-body');
    }
  });
  const gw = await startTestGateway(singleUpstream(upstream.url));
  try {
    for (const first of ['GET /204 HTTP/1.1\r\nHost: a\r\n\r\n', 'GET /304 HTTP/1.1\r\nHost: a\r\n\r\n']) {
      const raw = await rawUntil(gw.port, `${first}GET /next HTTP/1.1\r\nHost: a\r\n\r\n`, (t) =>
        t.includes('second-body'),
      );
      const answers = raw.split(/(?=HTTP\/1\.1 )/);
      assert.equal(answers.length, 2, raw);
      assert.match(answers[0], /^HTTP\/1\.1 (204|304) /);
      assert.doesNotMatch(answers[0], /trailer:/i);
      assert.doesNotMatch(answers[0], /content-length: [1-9]/i);
      assert.match(answers[1], /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nsecond-body$/);
    }
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test('a Trailer field on a Content-Length response is dropped: 200 passed through, nothing counted against the target', async () => {
  const upstream = await startRawFault(async (c) => {
    for (;;) {
      await c.nextRequest();
      await c.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\ntrailer: x-checksum\r\n\r\nok');
    }
  });
  const gw = await startTestGateway(
    singleUpstream(upstream.url, { upstream: '    outlier_detection: { consecutive_failures: 2 }' }),
  );
  try {
    for (let i = 0; i < 6; i++) {
      const res = await request(gw.url, { path: '/', headers: { te: 'trailers' } });
      assert.equal(res.status, 200);
      assert.equal(res.text, 'ok');
      assert.equal(res.headers.trailer, undefined);
    }
    // An HTTP/1.0 client cannot get trailers either.
    const old = await rawUntil(gw.port, 'GET / HTTP/1.0\r\nHost: a\r\n\r\n', () => false);
    assert.match(old, /^HTTP\/1\.1 200 OK\r\n/);
    assert.doesNotMatch(old, /trailer:/i);
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test('103 Early Hints with a comma-separated Link list reaches the client whole, before the 200', async () => {
  const upstream = await startRawFault(async (c) => {
    await c.nextRequest();
    await c.write(
      'HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload; as=style, </b.js>; rel=preload; as=script\r\n\r\n' +
        'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok',
    );
  });
  const gw = await startTestGateway(singleUpstream(upstream.url));
  try {
    const raw = await rawUntil(gw.port, 'GET / HTTP/1.1\r\nHost: a\r\nX-Request-Id: hints-1\r\n\r\n', (t) =>
      t.endsWith('\r\n\r\nok'),
    );
    assert.match(
      raw,
      /^HTTP\/1\.1 103 Early Hints\r\nlink: <\/a\.css>; rel=preload; as=style, <\/b\.js>; rel=preload; as=script\r\nvia: 1\.1 edge-1\r\nx-request-id: [0-9a-f-]{36}\r\n\r\nHTTP\/1\.1 200 OK\r\n/,
    );
    const line = await gw.logFor('hints-1');
    assert.equal(line.status, 200);
    assert.equal(line.error, undefined);
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test('interim answers are capped per exchange: the rest are dropped and counted in the log line', async () => {
  const upstream = await startRawFault(async (c) => {
    await c.nextRequest();
    await c.write(
      `${'HTTP/1.1 102 Processing\r\n\r\n'.repeat(20)}HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok`,
    );
  });
  const gw = await startTestGateway(singleUpstream(upstream.url));
  try {
    const raw = await rawUntil(gw.port, 'GET / HTTP/1.1\r\nHost: a\r\nX-Request-Id: flood-1\r\n\r\n', (t) =>
      t.endsWith('\r\n\r\nok'),
    );
    assert.equal(raw.match(/HTTP\/1\.1 102 /g)?.length, 16);
    assert.match(raw, /HTTP\/1\.1 200 OK\r\n[\s\S]*ok$/);
    const line = await gw.logFor('flood-1');
    assert.equal(line.status, 200);
    assert.equal(line.interim_dropped, 4);
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test('interim answers without end: refused past the head limit as a 502 naming the flood, not a 504 "no response"', async () => {
  const upstream = await startRawFault(async (c) => {
    await c.nextRequest();
    // 102 after 102, until the gateway hangs up: never a final answer.
    const burst = 'HTTP/1.1 102 Processing\r\n\r\n'.repeat(100);
    for (;;)
      if (
        !(await c.write(burst).then(
          () => true,
          () => false,
        ))
      )
        return;
  });
  const gw = await startTestGateway(
    singleUpstream(upstream.url, { upstream: '    retries: { attempts: 1 }' }),
  );
  try {
    const raw = await rawUntil(
      gw.port,
      'GET / HTTP/1.1\r\nHost: a\r\nX-Request-Id: flood-2\r\n\r\n',
      (t) => /HTTP\/1\.1 502 /.test(t) && t.includes('\r\n\r\n', t.indexOf('HTTP/1.1 502 ')),
    );
    assert.equal(raw.match(/HTTP\/1\.1 102 /g)?.length, 16, 'the relay cap held meanwhile');
    // 27 bytes a head: the 1214th is past 32 KiB.
    const details =
      '1214 interim (1xx) responses and no final one: their 32778 bytes are past the response head limit of 32768';
    assert.ok(
      raw.includes(
        `\r\nproxy-status: edge-1; error=http_protocol_error; details="${details}"; next-hop="app"\r\n`,
      ),
      raw.slice(raw.indexOf('HTTP/1.1 502 ')),
    );
    const line = await gw.logFor('flood-2');
    assert.equal(line.status, 502);
    assert.equal(line.error, 'http_protocol_error');
    assert.equal(line.details, details);
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test('interim answers and then silence: the 504 counts them, not "no response head"', async () => {
  const upstream = await startRawFault(async (c) => {
    await c.nextRequest();
    await c.write('HTTP/1.1 102 Processing\r\n\r\n'.repeat(3));
    await new Promise((resolve) => c.socket.once('close', resolve));
  });
  const gw = await startTestGateway(
    singleUpstream(upstream.url, {
      upstream: '    retries: { attempts: 1 }\n    timeouts: { response: 300ms }',
    }),
  );
  try {
    const res = await request(gw.url, { headers: { 'x-request-id': 'drip-1' } });
    assert.equal(res.status, 504);
    const line = await gw.logFor('drip-1');
    assert.equal(line.error, 'http_response_timeout');
    assert.match(
      String(line.details),
      /^no final response head \(response timeout of 300 ms\) after \S+ m?s, only 3 interim \(1xx\) answers$/,
    );
  } finally {
    await gw.close();
    await upstream.close();
  }
});

/** Writes interim answers (on /interim) and 23 bytes of a head, then nothing, reading no body. */
function startPartOfAHead(): Promise<Fault> {
  return startRawFault(
    async (c) => {
      let head = Buffer.alloc(0);
      while (!head.includes('\r\n\r\n')) {
        const chunk = c.read(1024);
        if (chunk === null) await new Promise((resolve) => c.socket.once('readable', resolve));
        else head = Buffer.concat([head, chunk]);
      }
      if (head.includes('/interim')) await c.write('HTTP/1.1 102 Processing\r\n\r\n'.repeat(2));
      await c.write('HTTP/1.1 200 OK\r\nx-a: b');
      await new Promise((resolve) => c.socket.once('close', resolve));
    },
    { manualRead: true },
  );
}

test('part of a head and then silence: the 504 says how much of it came, not "no response head", at the response or the total timeout', async () => {
  const upstream = await startPartOfAHead();
  // A GET meets the response timeout; a POST whose body the upstream never reads never starts
  // the response clock (nothing was sent whole), so the total timeout ends it.
  const gw = await startTestGateway(`name: edge-1
routes:
  - upstream: app
    request_buffering: false
    limits: { body: 64MiB }
upstreams:
  app:
    targets: [{ url: ${upstream.url} }]
    timeouts: { response: 300ms, total: 600ms }
    retries: { attempts: 1 }
`);
  try {
    const cases = [
      [
        'GET',
        '/',
        /^response head incomplete \(response timeout of 300 ms\) after \S+ m?s \(23 bytes of it came\)$/,
      ],
      [
        'GET',
        '/interim',
        /^no final response head \(response timeout of 300 ms\) after \S+ m?s, only 2 interim \(1xx\) answers and 23 bytes of the final one$/,
      ],
      ['POST', '/', /^response head incomplete within the total timeout of 600 ms \(23 bytes of it came\); /],
      [
        'POST',
        '/interim',
        /^no final response head within the total timeout of 600 ms, only 2 interim \(1xx\) answers and 23 bytes of the final one; /,
      ],
    ] as const;
    for (const [method, path, details] of cases) {
      const id = `part-${method}${path}`;
      const body = method === 'POST' ? Buffer.alloc(32 * 1024 * 1024, 98) : undefined;
      const res = await request(gw.url, { method, path, body, headers: { 'x-request-id': id } }).catch(
        () => undefined, // the client may still be uploading when the 504 comes and the connection closes
      );
      if (res !== undefined) assert.equal(res.status, 504);
      const line = await gw.logFor(id);
      assert.equal(line.status, 504);
      assert.equal(line.error, 'http_response_timeout');
      assert.equal(line.stage, 'sent');
      assert.match(String(line.details), details);
    }
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test('a Content-Length on a 204 or an interim answer does not reach the client (RFC 9110 §8.6), and the connection stays in step', async () => {
  const upstream = await startRawFault(async (c) => {
    for (;;) {
      const { path } = await c.nextRequest();
      if (path === '/204') await c.write('HTTP/1.1 204 No Content\r\ncontent-length: 11\r\n\r\n');
      else if (path === '/103')
        await c.write(
          'HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\ncontent-length: 11\r\n\r\n' +
            'HTTP/1.1 204 No Content\r\n\r\n',
        );
      else await c.write('HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\nsecond-body');
    }
  });
  const gw = await startTestGateway(singleUpstream(upstream.url));
  try {
    for (const first of ['GET /204 HTTP/1.1\r\nHost: a\r\n\r\n', 'GET /103 HTTP/1.1\r\nHost: a\r\n\r\n']) {
      const raw = await rawUntil(gw.port, `${first}GET /next HTTP/1.1\r\nHost: a\r\n\r\n`, (t) =>
        t.includes('second-body'),
      );
      const answers = raw.split(/(?=HTTP\/1\.1 )/);
      const [last] = answers.splice(-1);
      assert.ok(answers.length >= 1, raw);
      for (const answer of answers) {
        assert.match(answer, /^HTTP\/1\.1 (103|204) /);
        assert.doesNotMatch(answer, /content-length/i, 'a 1xx or 204 sends none');
      }
      assert.match(last, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nsecond-body$/);
    }
  } finally {
    await gw.close();
    await upstream.close();
  }
});
