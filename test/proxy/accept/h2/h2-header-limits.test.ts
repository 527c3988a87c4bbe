/**
 * A client's HTTP/2 request past `limits.http2.max_header_fields` or `max_header_list_size`, on
 * a real gateway: each refusal the gateway can answer is answered as over HTTP/1.1 (431, its
 * Proxy-Status, one log line, counted in candor_responses_total) and reaches no upstream. What
 * node:http2 resets before any JS sees the request (a later request past the header list size
 * the client acknowledged) is pinned as the config reference says it.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, describe, test } from 'node:test';
import type { Fault } from '../../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../../src/kits/fault-kit/http-servers.ts';
import { DOCS_TEXT } from '../../../helpers/docs-text.ts';
import { startTestGateway, type TestGateway } from '../../../helpers/test-gateway.ts';
import { settle } from '../downstream-fixture.ts';
import { ask } from './h2-ask.ts';
import {
  ERROR,
  FRAME,
  frame,
  headerBlock,
  headers,
  PREFACE,
  RawH2Client,
  requestFields,
  settings,
} from './h2-frames.ts';

/** `count` fields of a few bytes each: far inside the header list size, past the field count. */
function manyFields(count: number): Record<string, string> {
  const fields: Record<string, string> = {};
  for (let i = 0; i < count; i++) fields[`x-f${i}`] = 'v';
  return fields;
}

const FIELDS_DETAILS = 'more than 16 header fields (limits.http2.max_header_fields)';

describe('HTTP/2 header limits on a real gateway', () => {
  let echo: Fault;
  let gw: TestGateway;
  before(async () => {
    echo = await startEcho();
    gw = await startTestGateway(
      `name: edge-1
limits: { http2: { max_header_fields: 16, max_header_list_size: 2KiB } }
routes: [{ upstream: app }]
upstreams: { app: { targets: [{ url: "${echo.url}" }] } }
`,
      {},
      'http2: true',
    );
  });
  after(async () => {
    await gw.close();
    await echo.close();
  });

  // node:http2 reset it (ENHANCE_YOUR_CALM, its maxHeaderListPairs) before any JS saw it: no
  // answer, no log line, nothing counted.
  test('more header fields than max_header_fields: 431 as over HTTP/1.1, logged, counted, the connection serves on', async () => {
    const session = http2.connect(gw.url);
    session.on('error', () => {});
    try {
      const answer = await ask(session, {
        ':path': '/many',
        'x-request-id': 'h2-many-fields',
        accept: 'application/json',
        ...manyFields(20),
      });
      assert.equal(answer.rstCode, 0, 'answered, never reset');
      assert.equal(answer.headers[':status'], 431);
      assert.equal(
        answer.headers['proxy-status'],
        `edge-1; error=http_request_error; details="${FIELDS_DETAILS}"`,
      );
      assert.equal(JSON.parse(answer.body).status, 431);
      const line = await gw.logFor('h2-many-fields');
      assert.equal(line.status, 431);
      assert.equal(line.error, 'http_request_error');
      assert.equal(line.details, FIELDS_DETAILS);
      assert.equal(line.protocol, 'HTTP/2');
      assert.equal(typeof line.client, 'string');
      const exposition = await gw.gateway.metrics.registry.metrics();
      assert.match(exposition, /candor_responses_total\{[^}]*code="431"[^}]*\} 1\n/);
      // Exactly the limit passes (pseudo-fields counted: 4 of them, the id, 11 more).
      const fits = await ask(session, {
        ':path': '/fits',
        'x-request-id': 'h2-16-fields',
        ...manyFields(11),
      });
      assert.equal(fits.headers[':status'], 200);
      await settle();
      assert.deepEqual(
        echo.received.map((r) => r.path),
        ['/fits'],
        'the refused request never reached the upstream',
      );
    } finally {
      session.destroy();
    }
  });

  // RFC 9113 §8.2.3: a client may split Cookie into a field per cookie-pair, for HPACK's sake
  // (browsers do); they are one field, joined for HTTP/1.1. Counted each, a browser with more
  // cookies than max_header_fields got a 431 over HTTP/2 that the same request over HTTP/1.1,
  // one Cookie line, never got (nginx and HAProxy forward it).
  test('cookie crumbs count as the one Cookie field they are joined into: past max_header_fields split, forwarded whole', async () => {
    const session = http2.connect(gw.url);
    session.on('error', () => {});
    try {
      const crumbs = Array.from({ length: 20 }, (_, i) => `c${i}=v`);
      const answer = await ask(session, {
        ':path': '/crumbs',
        'x-request-id': 'h2-cookie-crumbs',
        cookie: crumbs,
      });
      assert.equal(answer.rstCode, 0, 'answered, never reset');
      assert.equal(answer.headers[':status'], 200);
      const seen = JSON.parse(answer.body) as { rawHeaders: [string, string][] };
      assert.deepEqual(
        seen.rawHeaders.filter(([name]) => name.toLowerCase() === 'cookie'),
        [['cookie', crumbs.join('; ')]],
      );
    } finally {
      session.destroy();
    }
  });

  // gRPC's own servers answer metadata larger than they accept with RESOURCE_EXHAUSTED (as a
  // message too large): the gateway's 431 is told so, not as INTERNAL (a bug of the server's).
  test('a gRPC request past max_header_fields: grpc-status 8 RESOURCE_EXHAUSTED, logged so', async () => {
    const session = http2.connect(gw.url);
    session.on('error', () => {});
    try {
      const answer = await ask(session, {
        ':method': 'POST',
        ':path': '/pkg.Svc/Many',
        'content-type': 'application/grpc',
        te: 'trailers',
        'x-request-id': 'h2-grpc-many-fields',
        ...manyFields(20),
      });
      assert.equal(answer.headers[':status'], 200);
      assert.equal(answer.headers['grpc-status'], '8');
      const line = await gw.logFor('h2-grpc-many-fields');
      assert.deepEqual([line.status, line.error, line.grpc_status], [431, 'http_request_error', 8]);
    } finally {
      session.destroy();
    }
  });

  // node:http2's own cap on a header list (h2-limits.ts) holds a trailer section too: once it sat
  // above max_header_fields, such a section went to the upstream.
  test('a request trailer section past max_header_fields: 431, logged, and it never reaches the upstream', async () => {
    const session = http2.connect(gw.url);
    session.on('error', () => {});
    try {
      const stream = session.request(
        { ':method': 'POST', ':path': '/trailed', 'x-request-id': 'h2-many-trailers', te: 'trailers' },
        { waitForTrailers: true },
      );
      stream.on('wantTrailers', () => stream.sendTrailers(manyFields(20)));
      stream.on('error', () => {});
      let status: unknown;
      stream.on('response', (h) => {
        status = h[':status'];
      });
      stream.resume();
      stream.end('hello');
      await new Promise((resolve) => stream.on('close', resolve));
      assert.equal(status, 431);
      const line = await gw.logFor('h2-many-trailers');
      assert.equal(line.status, 431);
      assert.equal(line.error, 'http_request_error');
      assert.equal(
        line.details,
        'its trailer section has more than 16 fields (limits.http2.max_header_fields)',
      );
    } finally {
      session.destroy();
    }
    await settle();
    assert.equal(
      echo.received.some((r) => r.path === '/trailed'),
      false,
    );
  });

  // node:http2 holds a trailer section to the header list size only once SETTINGS are
  // acknowledged, as a head: before, one past it went to the upstream (HTTP/1.1 answers 431).
  test('a trailer section past max_header_list_size before the client acknowledged SETTINGS: 431, logged, never sent on', async () => {
    const client = await RawH2Client.open(gw.port);
    try {
      const head: [string, string][] = [
        ['x-request-id', 'h2-first-big-trailers'],
        ['te', 'trailers'],
      ];
      client.send(
        Buffer.concat([
          PREFACE,
          settings(),
          headers(1, headerBlock(requestFields('/big-trailers', 'POST', head)), { endStream: false }),
          frame(FRAME.DATA, 0, 1, Buffer.from('hello')),
          headers(1, headerBlock([['x-big', 'a'.repeat(3000)]])),
        ]),
      );
      const answer = await client.waitFor(
        (f) => f.streamId === 1 && (f.type === FRAME.HEADERS || f.type === FRAME.RST_STREAM),
      );
      assert.equal(answer.type, FRAME.HEADERS, 'answered, never reset');
      const line = await gw.logFor('h2-first-big-trailers');
      assert.equal(line.status, 431);
      assert.equal(line.error, 'http_request_error');
      assert.match(
        String(line.details),
        /^its trailer section is 3[0-9]{3} bytes as HTTP\/2 counts a header list, past the limit of 2048 \(limits\.http2\.max_header_list_size\)$/,
      );
    } finally {
      client.close();
    }
    await settle();
    assert.equal(
      echo.received.some((r) => r.path === '/big-trailers'),
      false,
    );
  });

  // RFC 9113 §8.2.1 makes a request with such a value malformed, trailers included (§8.1.1: a
  // stream error, never forwarded): its value was trimmed and the request went on.
  test('a request trailer whose value has whitespace at an end: 400 as the same field in its head, logged, never sent on', async () => {
    const client = await RawH2Client.connect(gw.port);
    try {
      const head: [string, string][] = [
        ['x-request-id', 'h2-padded-trailer'],
        ['te', 'trailers'],
      ];
      client.send(
        Buffer.concat([
          headers(1, headerBlock(requestFields('/padded-trailer', 'POST', head)), { endStream: false }),
          frame(FRAME.DATA, 0, 1, Buffer.from('hello')),
          headers(1, headerBlock([['x-sum', '42 ']])),
        ]),
      );
      const answer = await client.waitFor(
        (f) => f.streamId === 1 && (f.type === FRAME.HEADERS || f.type === FRAME.RST_STREAM),
      );
      assert.equal(answer.type, FRAME.HEADERS, 'answered, never reset');
      const line = await gw.logFor('h2-padded-trailer');
      assert.equal(line.status, 400);
      assert.equal(line.error, 'http_request_error');
      assert.equal(
        line.details,
        'request body could not be read (its trailer section: malformed request (HPE_INVALID_HEADER_TOKEN: whitespace around the value of header "x-sum"))',
      );
    } finally {
      client.close();
    }
    await settle();
    assert.equal(
      echo.received.some((r) => r.path === '/padded-trailer'),
      false,
    );
  });

  /** The gateway's 431 answers counted so far. */
  async function answered431(): Promise<number> {
    const exposition = await gw.gateway.metrics.registry.metrics();
    const line = /^candor_responses_total\{[^}]*code="431"[^}]*\} ([0-9]+)$/m.exec(exposition);
    return Number(line?.[1] ?? 0);
  }

  // The config reference said every request past max_header_list_size was reset; the first one
  // of a connection, sent before the client acknowledged the SETTINGS that announce the limit,
  // is answered 431 and logged.
  test('past max_header_list_size before the client acknowledged SETTINGS (its first request): 431, logged, counted, as the config reference says', async () => {
    const before = await answered431();
    const client = await RawH2Client.open(gw.port);
    try {
      const big: [string, string][] = [
        ['x-request-id', 'h2-first-too-big'],
        ['x-big', 'a'.repeat(3000)],
      ];
      client.send(
        Buffer.concat([PREFACE, settings(), headers(1, headerBlock(requestFields('/first', 'GET', big)))]),
      );
      const answer = await client.waitFor(
        (f) => f.streamId === 1 && (f.type === FRAME.HEADERS || f.type === FRAME.RST_STREAM),
      );
      assert.equal(answer.type, FRAME.HEADERS, 'answered, never reset');
      const line = await gw.logFor('h2-first-too-big');
      assert.equal(line.status, 431);
      assert.equal(line.error, 'http_request_error');
      assert.match(
        String(line.details),
        /^request header list of 3[0-9]{3} bytes is past the limit of 2048 \(limits\.http2\.max_header_list_size\)$/,
      );
      assert.equal(line.protocol, 'HTTP/2');
      assert.equal(await answered431(), before + 1);
    } finally {
      client.close();
    }
    await settle();
    assert.equal(
      echo.received.some((r) => r.path === '/first'),
      false,
    );
    assert.match(
      configRow('max_header_list_size'),
      /before the client acknowledged[^|]*431 `http_request_error`/,
    );
  });

  test('past max_header_list_size once the client acknowledged SETTINGS: node:http2 resets it (ENHANCE_YOUR_CALM) unseen, as the config reference says; the connection serves on', async () => {
    const session = http2.connect(gw.url);
    session.on('error', () => {});
    try {
      // The client acknowledges the gateway's SETTINGS as it reads them, before any request below.
      await new Promise((resolve) => session.once('remoteSettings', resolve));
      assert.equal(session.remoteSettings.maxHeaderListSize, 2048);
      const fits = await ask(session, { ':path': '/before', 'x-request-id': 'h2-before-reset' });
      assert.equal(fits.headers[':status'], 200);
      const answer = await ask(session, {
        ':path': '/later',
        'x-request-id': 'h2-later-too-big',
        'x-big': 'a'.repeat(3000),
      });
      assert.equal(answer.headers[':status'], undefined);
      assert.equal(answer.rstCode, http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
      const after = await ask(session, { ':path': '/after', 'x-request-id': 'h2-after-reset' });
      assert.equal(after.headers[':status'], 200);
      await gw.logFor('h2-after-reset');
      assert.equal(
        gw.logs.some((l) => l.client_req_id === 'h2-later-too-big' || l.request_id === 'h2-later-too-big'),
        false,
        'node:http2 says nothing of it: no line (the config reference says so)',
      );
    } finally {
      session.destroy();
    }
    await settle();
    assert.equal(
      echo.received.some((r) => r.path === '/later'),
      false,
    );
    assert.match(
      configRow('max_header_list_size'),
      /once it has acknowledged them[^|]*`RST_STREAM ENHANCE_YOUR_CALM`[^|]*not logged/,
    );
  });

  test('a first request with more fields than a list within max_header_list_size can hold: reset (ENHANCE_YOUR_CALM) by node:http2, as the config reference says', async () => {
    const client = await RawH2Client.open(gw.port);
    try {
      // 2048 ÷ 33 = 62 fields at most within the size: node:http2 takes 63, and resets the 64th.
      const many: [string, string][] = Array.from({ length: 70 }, (_, i) => [`x-f${i}`, 'v']);
      client.send(
        Buffer.concat([
          PREFACE,
          settings(),
          headers(1, headerBlock(requestFields('/very-many', 'GET', many))),
        ]),
      );
      const answer = await client.waitFor(
        (f) => f.streamId === 1 && (f.type === FRAME.HEADERS || f.type === FRAME.RST_STREAM),
      );
      assert.equal(answer.type, FRAME.RST_STREAM);
      assert.equal(answer.payload.readUInt32BE(0), ERROR.ENHANCE_YOUR_CALM);
    } finally {
      client.close();
    }
    assert.match(
      configRow('max_header_fields'),
      /that size ÷ 33[^|]*`RST_STREAM ENHANCE_YOUR_CALM`[^|]*first request or not/,
    );
  });
});

/** The config reference's row of `limits.http2.<key>`. */
function configRow(key: string): string {
  const row = DOCS_TEXT.split('\n').find((line) => line.startsWith(`| \`limits.http2.${key}\` |`));
  assert.ok(row, `the config reference has a row for limits.http2.${key}`);
  return row;
}
