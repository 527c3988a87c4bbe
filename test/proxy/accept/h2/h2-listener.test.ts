/**
 * Downstream HTTP/2 on the data path: a real gateway whose listener has `http2: true`, asked
 * by curl (h2c with prior knowledge on a plain port, h2 by ALPN over TLS) and by node:http2's
 * client where a test must see frames curl hides (a reset stream, GOAWAY). Each failure shape
 * of the contract answers over HTTP/2 as over HTTP/1.1: status, Proxy-Status, Retry-After, one
 * log line naming the protocol; a failure after the head resets the stream. Skipped where curl
 * is missing (.ci/run installs it).
 */
import assert from 'node:assert/strict';
import http2, { type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Fault } from '../../../../src/kits/fault-kit/fault.ts';
import {
  startBadFraming,
  startHugeHeader,
  startSshBanner,
} from '../../../../src/kits/fault-kit/garbage-faults.ts';
import { startEcho } from '../../../../src/kits/fault-kit/http-servers.ts';
import { startResetBeforeHead, startResetMidBody } from '../../../../src/kits/fault-kit/reset-faults.ts';
import { startBlackhole } from '../../../../src/kits/fault-kit/slow-faults.ts';
import { testCertificates } from '../../../../src/kits/fault-kit/tls-certs.ts';
import { startRefusing, UNRESOLVABLE_URL } from '../../../../src/kits/fault-kit/unreachable-faults.ts';
import { hasTool, runTool } from '../../../helpers/cli-tools.ts';
import { rawUntil } from '../../../helpers/http-client.ts';
import { type LogLine, startTestGateway, type TestGateway } from '../../../helpers/test-gateway.ts';
import { waitUntil } from '../../../helpers/wait.ts';
import { ERROR, goawayCode, ping, RawH2Client } from './h2-frames.ts';

const noCurl = !hasTool('curl') && 'curl missing';

interface CurlAnswer {
  code: number;
  stderr: string;
  /** "HTTP/2", "HTTP/1.1". */
  version: string;
  status: number;
  headers: Map<string, string>;
  body: string;
}

/** curl with its head on stdout (`-D -`), bounded in time; the head and body parsed. */
async function curl(args: string[]): Promise<CurlAnswer> {
  const { code, stdout, stderr } = await runTool('curl', ['-sS', '-D', '-', ...args]);
  const split = stdout.indexOf('\r\n\r\n');
  const lines = (split === -1 ? stdout : stdout.slice(0, split)).split('\r\n');
  const [version = '', status = '0'] = (lines[0] ?? '').split(' ');
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
  }
  const body = split === -1 ? '' : stdout.slice(split + 4);
  return { code, stderr, version, status: Number(status), headers, body };
}

/** Whether an HTTP/1.1 answer with a Content-Length is all in. */
function whole(text: string): boolean {
  const end = text.indexOf('\r\n\r\n');
  const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end));
  return end >= 0 && length !== null && text.length >= end + 4 + Number(length[1]);
}

/** Where each route's upstream is: a fault of the kit, or a URL alone (nothing needs to run there). */
type Upstreams = Record<string, Pick<Fault, 'url'> & Partial<Pick<Fault, 'close'>>>;

/** A routes-and-upstreams config with one route per failure shape (each upstream tried once: no retry, no ejection). */
function failureConfig(faults: Upstreams): string {
  const names = Object.keys(faults);
  return `name: edge-1
routes:
${names.map((name) => `  - { match: { path: /${name} }, upstream: ${name} }`).join('\n')}
  - match: { path: /limited }
    upstream: ok
    rate_limit: { rate: 1, burst: 1, key: client }
  - match: { path: /maintenance }
    upstream: ok
    maintenance: { retry_after: 90s }
upstreams:
${names
  .map(
    (name) => `  ${name}:
    targets: [{ url: "${faults[name].url}" }]
    timeouts: { response: 300ms }
    retries: { attempts: 1 }`,
  )
  .join('\n')}
`;
}

async function startFaults(): Promise<Upstreams> {
  const ok = await startEcho();
  return {
    ok,
    refused: await startRefusing(),
    unresolvable: { url: UNRESOLVABLE_URL },
    tlsmismatch: { url: ok.url.replace('http:', 'https:') },
    slow: await startBlackhole(),
    reset: await startResetBeforeHead(),
    garbage: await startSshBanner(),
    hugeheader: await startHugeHeader(),
    badframing: await startBadFraming(),
    truncated: await startResetMidBody(),
  };
}

async function closeAll(gw: TestGateway | undefined, faults: Upstreams | undefined): Promise<void> {
  await gw?.close();
  await Promise.all(Object.values(faults ?? {}).map((f) => f.close?.()));
}

/** The access-log line of the request for `path`, once written (bounded: 5 s). */
async function requestLineFor(gw: TestGateway, path: string): Promise<LogLine> {
  const find = () => gw.logs.find((l) => l.msg === 'request' && l.path === path);
  await waitUntil(`logged ${path}`, () => find() !== undefined);
  return find() as LogLine;
}

interface H2Answer {
  headers: IncomingHttpHeaders;
  body: string;
  /** Whether the stream ended with END_STREAM (a whole answer). */
  ended: boolean;
  rstCode: number | undefined;
}

/** One request on a node:http2 session, bounded in time; says how the stream ended. */
function h2Request(session: ClientHttp2Session, headers: http2.OutgoingHttpHeaders): Promise<H2Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers);
    const answer: H2Answer = { headers: {}, body: '', ended: false, rstCode: undefined };
    const timer = setTimeout(() => reject(new Error('no answer within 5 s')), 5000);
    stream.on('response', (h) => {
      answer.headers = h;
    });
    stream.setEncoding('latin1');
    stream.on('data', (c: string) => {
      answer.body += c;
    });
    stream.on('end', () => {
      answer.ended = stream.rstCode === undefined || stream.rstCode === http2.constants.NGHTTP2_NO_ERROR;
    });
    stream.on('error', () => {});
    stream.on('close', () => {
      clearTimeout(timer);
      answer.rstCode = stream.rstCode;
      resolve(answer);
    });
    stream.end();
  });
}

describe('h2c with prior knowledge beside HTTP/1.1 on a plain listener with http2: true', {
  skip: noCurl,
}, () => {
  let faults: Upstreams | undefined;
  let gw: TestGateway | undefined;
  let base = '';
  before(async () => {
    faults = await startFaults();
    gw = await startTestGateway(failureConfig(faults), {}, 'http2: true');
    base = gw.url;
  });
  after(() => closeAll(gw, faults));

  test('a request over h2c reaches the upstream and is logged HTTP/2; HTTP/1.1 still works on the same port', async () => {
    const h2 = await curl(['--http2-prior-knowledge', `${base}/ok/x?q=1`]);
    assert.equal(h2.code, 0, h2.stderr);
    assert.equal(h2.version, 'HTTP/2');
    assert.equal(h2.status, 200);
    const line = await gw!.logFor(h2.headers.get('x-request-id') ?? '');
    assert.equal(line.protocol, 'HTTP/2');
    assert.equal(line.status, 200);
    const seen = await (faults!.ok as Fault).waitForRequest(1);
    assert.equal(seen.path, '/ok/x?q=1');

    const h1 = await curl(['--http1.1', `${base}/ok/y`]);
    assert.equal(h1.code, 0, h1.stderr);
    assert.equal(h1.version, 'HTTP/1.1');
    assert.equal(h1.status, 200);
    assert.equal((await gw!.logFor(h1.headers.get('x-request-id') ?? '')).protocol, 'HTTP/1.1');
  });

  test('an HTTP/1.1 connection on this listener is read by its HTTP/1.1 connection alone: no preface reader, timer or listeners before it', async () => {
    const accepted: net.Socket[] = [];
    const server = gw!.gateway.listeners[0].server;
    const onConnection = (socket: net.Socket) => accepted.push(socket);
    server.on('connection', onConnection);
    try {
      const answer = await rawUntil(
        Number(new URL(base).port),
        'GET /ok/h1 HTTP/1.1\r\nHost: a\r\n\r\n',
        whole,
      );
      assert.match(answer, /^HTTP\/1\.1 200 OK\r\n/);
      assert.equal(accepted.length, 1);
      // Its Http1Connection's own, one an event, and node:net's own 'end' (before: the preface
      // reader's close listener and the server's, besides).
      assert.deepEqual(
        ['data', 'end', 'close', 'error'].map((event) => accepted[0].listenerCount(event)),
        [1, 2, 1, 1],
      );
    } finally {
      server.off('connection', onConnection);
    }
  });

  for (const [path, status, type] of [
    ['refused', 502, 'connection_refused'],
    ['slow', 504, 'http_response_timeout'],
    ['reset', 502, 'connection_terminated'],
    ['garbage', 502, 'http_protocol_error'],
    ['unresolvable', 502, 'dns_error'],
    ['tlsmismatch', 502, 'tls_protocol_error'],
    ['hugeheader', 502, 'http_response_header_section_size'],
    ['badframing', 502, 'http_response_transfer_coding'],
  ] as const)
    test(`${path}: ${status} ${type} over HTTP/2, with Proxy-Status and a problem+json body`, async () => {
      const r = await curl(['--http2-prior-knowledge', '-H', 'accept: application/json', `${base}/${path}`]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.version, 'HTTP/2');
      assert.equal(r.status, status);
      assert.match(
        r.headers.get('proxy-status') ?? '',
        new RegExp(`^edge-1; error=${type}; (?:rcode="[A-Z]+"; )?details=".+"; next-hop="${path}"$`),
      );
      assert.equal(r.headers.get('content-type'), 'application/problem+json');
      assert.equal(r.headers.get('connection'), undefined, 'no connection-specific field over HTTP/2');
      const problem = JSON.parse(r.body);
      assert.equal(problem.status, status);
      assert.equal(problem.request_id, r.headers.get('x-request-id'));
      const line = await gw!.logFor(r.headers.get('x-request-id') ?? '');
      assert.equal(line.protocol, 'HTTP/2');
      assert.equal(line.status, status);
      assert.equal(line.error, type);
    });

  test('no route: 404 destination_not_found over HTTP/2', async () => {
    const r = await curl(['--http2-prior-knowledge', `${base}/nowhere`]);
    assert.equal(r.status, 404);
    assert.match(r.headers.get('proxy-status') ?? '', /^edge-1; error=destination_not_found; details="/);
  });

  test('no route for a gRPC request whose body is never read: its Trailers-Only answer ends the stream, logged', async () => {
    const r = await curl([
      '--http2-prior-knowledge',
      '-H',
      'content-type: application/grpc',
      '--data-binary',
      'unread body',
      `${base}/nowhere`,
    ]);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('grpc-status'), '12');
    const line = await gw!.logFor(r.headers.get('x-request-id') ?? '');
    assert.equal(line.status, 404);
    assert.equal(line.error, 'destination_not_found');
  });

  test('rate limit: 429 http_request_denied with Retry-After over HTTP/2', async () => {
    const first = await curl(['--http2-prior-knowledge', `${base}/limited`]);
    assert.equal(first.status, 200);
    const second = await curl(['--http2-prior-knowledge', `${base}/limited`]);
    assert.equal(second.version, 'HTTP/2');
    assert.equal(second.status, 429);
    assert.match(second.headers.get('retry-after') ?? '', /^[1-9][0-9]*$/);
    assert.match(second.headers.get('proxy-status') ?? '', /^edge-1; error=http_request_denied; details="/);
  });

  test('maintenance: 503 proxy_internal_response with Retry-After over HTTP/2', async () => {
    const r = await curl(['--http2-prior-knowledge', `${base}/maintenance`]);
    assert.equal(r.version, 'HTTP/2');
    assert.equal(r.status, 503);
    assert.equal(r.headers.get('retry-after'), '90');
    assert.match(r.headers.get('proxy-status') ?? '', /^edge-1; error=proxy_internal_response; details="/);
  });

  test('a request that already passed this gateway: 502 proxy_loop_detected over HTTP/2', async () => {
    const r = await curl(['--http2-prior-knowledge', '-H', 'via: 1.1 edge-1', `${base}/ok/loop`]);
    assert.equal(r.version, 'HTTP/2');
    assert.equal(r.status, 502);
    assert.match(r.headers.get('proxy-status') ?? '', /^edge-1; error=proxy_loop_detected; details="/);
  });

  test('a failure after the head resets the stream (RST_STREAM), never ends it as if whole', async () => {
    const session = http2.connect(base);
    session.on('error', () => {});
    try {
      const r = await h2Request(session, { ':path': '/truncated' });
      assert.equal(r.headers[':status'], 200);
      assert.equal(r.ended, false, 'the stream did not end cleanly');
      assert.equal(r.rstCode, http2.constants.NGHTTP2_INTERNAL_ERROR);
      const line = await gw!.logFor(String(r.headers['x-request-id']));
      assert.equal(line.error, 'http_response_incomplete');
      assert.equal(line.protocol, 'HTTP/2');
    } finally {
      session.destroy();
    }
  });

  test('a :path past limits.uri_length: 414 on its stream, logged; the connection serves on', async () => {
    const session = http2.connect(base);
    session.on('error', () => {});
    try {
      const long = await h2Request(session, { ':path': `/ok/${'a'.repeat(9000)}` });
      assert.equal(long.headers[':status'], 414);
      // Worded as an HTTP/1.1 414 is: the length and the limit to raise.
      assert.equal(
        String(long.headers['proxy-status']),
        'edge-1; error=http_request_error; details="request target of 9004 bytes, over the limit of 8192 bytes (limits.uri_length)"',
      );
      const line = await gw!.logFor(String(long.headers['x-request-id']));
      assert.equal(line.status, 414);
      assert.equal(line.protocol, 'HTTP/2');
      // Its first 256 characters, as an HTTP/1.1 414's: not the whole :path.
      assert.equal(line.path, `/ok/${'a'.repeat(252)}`);
      const next = await h2Request(session, { ':path': '/ok/after' });
      assert.equal(next.headers[':status'], 200);
    } finally {
      session.destroy();
    }
  });
});

describe('h2 by ALPN on a TLS listener with http2: true', { skip: noCurl }, () => {
  let faults: Upstreams | undefined;
  let gw: TestGateway | undefined;
  let base = '';
  before(async () => {
    const certs = testCertificates();
    faults = await startFaults();
    gw = await startTestGateway(
      failureConfig(faults),
      {},
      `tls: { cert: ${certs.localhost.certPath}, key: ${certs.localhost.keyPath} }\n    http2: true`,
    );
    base = `https://127.0.0.1:${gw.port}`;
  });
  after(() => closeAll(gw, faults));

  test('curl --http2 -k negotiates h2: 502 connection_refused with Proxy-Status over HTTP/2', async () => {
    const r = await curl(['--http2', '-k', `${base}/refused`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.version, 'HTTP/2');
    assert.equal(r.status, 502);
    assert.match(
      r.headers.get('proxy-status') ?? '',
      /^edge-1; error=connection_refused; details=".+"; next-hop="refused"$/,
    );
    const line = await gw!.logFor(r.headers.get('x-request-id') ?? '');
    assert.equal(line.protocol, 'HTTP/2');
    assert.equal(line.error, 'connection_refused');
  });

  test('a client that offers only http/1.1 gets HTTP/1.1 on the same port', async () => {
    const r = await curl(['--http1.1', '-k', `${base}/ok/x`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.version, 'HTTP/1.1');
    assert.equal(r.status, 200);
  });

  test('slow over h2: 504 http_response_timeout', async () => {
    const r = await curl(['--http2', '-k', `${base}/slow`]);
    assert.equal(r.version, 'HTTP/2');
    assert.equal(r.status, 504);
    assert.match(r.headers.get('proxy-status') ?? '', /^edge-1; error=http_response_timeout; /);
  });
});

test('a certificate chosen by SNI (listen[].tls.certificates) negotiates h2 too', {
  skip: noCurl,
}, async () => {
  const certs = testCertificates();
  const echo = await startEcho();
  let gw: TestGateway | undefined;
  try {
    gw = await startTestGateway(
      `routes: [{ upstream: app }]\nupstreams: { app: { targets: [{ url: "${echo.url}" }] } }\n`,
      {},
      `tls:\n      cert: ${certs.wrongHost.certPath}\n      key: ${certs.wrongHost.keyPath}\n` +
        `      certificates: [{ cert: ${certs.localhost.certPath}, key: ${certs.localhost.keyPath} }]\n    http2: true`,
    );
    const r = await curl(['--http2', '--cacert', certs.caPath, `https://localhost:${gw.port}/`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.version, 'HTTP/2');
    assert.equal(r.status, 200);
  } finally {
    await gw?.close();
    await echo.close();
  }
});

describe('the listener around HTTP/2: max_connections, bounds in the log, the drain', () => {
  test('max_connections counts HTTP/2 connections: one more is closed unread', async () => {
    const echo = await startEcho();
    let gw: TestGateway | undefined;
    let session: ClientHttp2Session | undefined;
    try {
      gw = await startTestGateway(
        `routes: [{ upstream: app }]\nupstreams: { app: { targets: [{ url: "${echo.url}" }] } }\n`,
        {},
        'http2: true\n    max_connections: 1',
      );
      session = http2.connect(gw.url);
      session.on('error', () => {});
      assert.equal((await h2Request(session, { ':path': '/' })).headers[':status'], 200);
      const second = net.connect(gw.port, '127.0.0.1');
      second.on('error', () => {});
      const got = await new Promise<string>((resolve) => {
        let data = '';
        second.on('data', (c: Buffer) => {
          data += c.toString('latin1');
        });
        second.on('close', () => resolve(data));
        second.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
        setTimeout(() => second.destroy(), 5000);
      });
      assert.equal(got, '', 'closed without an answer');
    } finally {
      session?.destroy();
      await gw?.close();
      await echo.close();
    }
  });

  test("a bound passed is logged through the gateway's logger, naming the bound and the listener", async () => {
    const echo = await startEcho();
    let gw: TestGateway | undefined;
    let client: RawH2Client | undefined;
    try {
      gw = await startTestGateway(
        `routes: [{ upstream: app }]\nupstreams: { app: { targets: [{ url: "${echo.url}" }] } }\nlimits: { http2: { max_pings: 5 } }\n`,
        {},
        'http2: true',
      );
      client = await RawH2Client.connect(gw.port);
      for (let i = 0; i < 20 && !client.closed; i++) client.send(ping());
      assert.equal(goawayCode(await client.goaway()), ERROR.ENHANCE_YOUR_CALM);
      await client.untilClosed();
      const line = gw.logs.find((l) => l.msg === 'HTTP/2 bound passed');
      assert.ok(line, 'a warn line');
      assert.equal(line.level, 'warn');
      assert.equal(line.bound, 'ping_flood');
      assert.equal(line.code, 'ENHANCE_YOUR_CALM');
      assert.equal(line.listener, '127.0.0.1:0');
      assert.equal(line.details, 'more than 5 PING frames in 10000 ms');
    } finally {
      client?.close();
      await gw?.close();
      await echo.close();
    }
  });

  test('the drain sends GOAWAY to an HTTP/2 client and closes its connection once its stream is answered', async () => {
    const slowEcho = await startEcho();
    let gw: TestGateway | undefined;
    let session: ClientHttp2Session | undefined;
    try {
      gw = await startTestGateway(
        `routes: [{ upstream: app }]\nupstreams: { app: { targets: [{ url: "${slowEcho.url}" }] } }\ndrain: { delay: 0s, timeout: 5s }\n`,
        {},
        'http2: true',
      );
      session = http2.connect(gw.url);
      session.on('error', () => {});
      const goaway = new Promise<number>((resolve) =>
        session!.once('goaway', (code: number) => resolve(code)),
      );
      const closed = new Promise<void>((resolve) => session!.once('close', () => resolve()));
      // Answered after 300 ms: the drain starts while the stream is open.
      const answer = h2Request(session, { ':path': '/?delay=300' });
      await slowEcho.waitForRequest(1);
      const drained = gw.gateway.drain();
      assert.equal(await goaway, http2.constants.NGHTTP2_NO_ERROR);
      const r = await answer;
      assert.equal(r.headers[':status'], 200);
      assert.equal(r.ended, true);
      await closed;
      await drained;
    } finally {
      session?.destroy();
      await gw?.close();
      await slowEcho.close();
    }
  });

  test("the drain's deadline destroys an HTTP/2 connection whose stream is still open, logged as cut by the drain", async () => {
    const silent = await startBlackhole();
    let gw: TestGateway | undefined;
    let session: ClientHttp2Session | undefined;
    try {
      gw = await startTestGateway(
        `routes: [{ upstream: app }]\nupstreams: { app: { targets: [{ url: "${silent.url}" }], timeouts: { response: 10s } } }\ndrain: { delay: 0s, timeout: 300ms }\n`,
        {},
        'http2: true',
      );
      session = http2.connect(gw.url);
      session.on('error', () => {});
      const closed = new Promise<void>((resolve) => session!.once('close', () => resolve()));
      const answer = h2Request(session, { ':path': '/never' });
      await silent.waitForConnection(1);
      await gw.gateway.drain();
      await closed;
      const r = await answer;
      assert.equal(r.ended, false, 'no answer, no clean end');
      const line = await requestLineFor(gw, '/never');
      assert.equal(line.protocol, 'HTTP/2');
      assert.equal(line.error, 'proxy_internal_response');
      assert.equal(
        line.details,
        'the gateway was shutting down and its drain deadline passed: it closed the connection',
      );
      assert.equal(line.status, 0, 'no status went out: not the 503 never written');
      assert.equal(line.client_aborted, false);
    } finally {
      session?.destroy();
      await gw?.close();
      await silent.close();
    }
  });

  test('http2: false (the default) leaves the HTTP/1.1 path as it was: the preface is a bad request', async () => {
    const echo = await startEcho();
    let gw: TestGateway | undefined;
    try {
      gw = await startTestGateway(
        `routes: [{ upstream: app }]\nupstreams: { app: { targets: [{ url: "${echo.url}" }] } }\n`,
      );
      const socket = net.connect(gw.port, '127.0.0.1');
      socket.on('error', () => {});
      const got = await new Promise<string>((resolve) => {
        let data = '';
        socket.on('data', (c: Buffer) => {
          data += c.toString('latin1');
        });
        socket.on('close', () => resolve(data));
        socket.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
        setTimeout(() => socket.destroy(), 5000);
      });
      assert.match(got, /^HTTP\/1\.1 (400|505) /);
    } finally {
      await gw?.close();
      await echo.close();
    }
  });
});
