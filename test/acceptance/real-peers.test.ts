/**
 * The failure contract against real peers that are not Node: Python's `http.server` (HTTP/1.0,
 * close-delimited CGI answers), etcd (Go, gRPC over h2c) and Pebble (Go net/http, h2 over TLS),
 * each killed (SIGKILL), hung (SIGSTOP, then SIGCONT) or restarted under the gateway, and a
 * headless Chromium reaching the gateway over TLS (h2 by ALPN). Each peer's part skips when its
 * binary is missing. Waits are counted in bytes and events, never timed.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { testCertificates } from '../../src/kits/fault-kit/tls-certs.ts';
import { launchChromium, noChromium } from '../helpers/chromium.ts';
import { hasTool } from '../helpers/cli-tools.ts';
import { type EtcdProcess, startEtcd } from '../helpers/etcd-server.ts';
import { parseProxyStatus } from '../helpers/gateway-error.ts';
import { request } from '../helpers/http-client.ts';
import { type Pebble, startPebble } from '../helpers/pebble.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { startGatewayFromText, startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';
import { connects, freePort } from '../helpers/wait.ts';

/** Whether `command` is on PATH (pebble has no --version for hasTool to run). */
function onPath(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const noPython = hasTool('python3') ? false : 'no python3 (its http.server is the HTTP/1.0 peer)';
const noEtcd = onPath('etcd') ? false : 'no etcd (apt-get install etcd-server)';
const noPebble =
  onPath('pebble') && onPath('pebble-challtestsrv') ? false : 'no pebble (apt-get install pebble)';

/** CGI scripts: answers without Content-Length (close-delimited) and with one, written a line at a time. */
const CGI_STREAM = `#!/usr/bin/env python3
import os, sys, time
n = int(os.environ.get("QUERY_STRING") or "4")
length = os.environ.get("PATH_INFO") == "/length"
sys.stdout.write("Content-Type: application/octet-stream\\r\\nX-Peer: cgi\\r\\n")
if length:
    sys.stdout.write("Content-Length: %d\\r\\n" % (n * 1024))
sys.stdout.write("\\r\\n")
sys.stdout.flush()
for i in range(n):
    sys.stdout.write(("%06d" % i) + "x" * 1017 + "\\n")
    sys.stdout.flush()
    time.sleep(0.02)
`;

/** `python3 -m http.server --cgi` in its own process group (the CGI child dies with it). */
class PythonServer {
  readonly dir = tempDir('candor-python-');
  port = 0;
  #child: ChildProcess | undefined;

  async start(): Promise<void> {
    // Run as root, http.server runs a CGI script as nobody: its folders must be open to it.
    chmodSync(this.dir, 0o755);
    mkdirSync(join(this.dir, 'cgi-bin'), { recursive: true, mode: 0o755 });
    writeFileSync(
      join(this.dir, 'index.html'),
      '<html><head><title>from python</title></head><body>hello</body></html>',
    );
    writeFileSync(join(this.dir, 'cgi-bin', 'stream.py'), CGI_STREAM);
    chmodSync(join(this.dir, 'cgi-bin', 'stream.py'), 0o755);
    // Started again after a kill: on the same port, as a supervisor would (allow_reuse_address).
    if (this.port === 0) this.port = await freePort();
    this.#child = spawn(
      'python3',
      ['-m', 'http.server', String(this.port), '--bind', '127.0.0.1', '--cgi', '--directory', this.dir],
      { detached: true, stdio: 'ignore' },
    );
    for (let i = 0; i < 200; i++) {
      if (await connects(this.port)) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error('python3 -m http.server did not listen');
  }

  signal(signal: NodeJS.Signals): void {
    const pid = this.#child?.pid;
    if (pid !== undefined && this.#child?.exitCode === null && this.#child.signalCode === null)
      process.kill(-pid, signal);
  }

  async kill(): Promise<void> {
    const child = this.#child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    this.signal('SIGCONT');
    this.signal('SIGKILL');
    await exited;
  }
}

/** A GET over HTTP/1.1 that calls `onBytes` once `atBytes` of the body are in; what came, and whether it ended whole. */
function getUntil(
  url: string,
  atBytes: number,
  onBytes: () => void,
): Promise<{ status: number; headers: Record<string, unknown>; bytes: number; whole: boolean }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      let bytes = 0;
      let fired = false;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (!fired && bytes >= atBytes) {
          fired = true;
          onBytes();
        }
      });
      const done = (whole: boolean) =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes, whole });
      res.on('end', () => done(res.complete));
      res.on('aborted', () => done(false));
      res.on('error', () => done(false));
    });
    req.on('error', reject);
  });
}

describe('python3 -m http.server (HTTP/1.0) behind the gateway', { skip: noPython }, () => {
  const python = new PythonServer();
  let gw: TestGateway;
  before(async () => {
    await python.start();
    gw = await startTestGateway(`routes:
  - match: { path: /py }
    strip_prefix: true
    upstream: py
upstreams:
  py:
    targets: [{ url: "http://127.0.0.1:${python.port}" }]
    timeouts: { response: 1s, read: 1s }
`);
  });
  after(async () => {
    await python.kill();
    await gw?.close();
  });

  test('a close-delimited CGI answer reaches an HTTP/1.1 client chunked and whole, its fields as sent', async () => {
    const res = await request(gw.url, { path: '/py/cgi-bin/stream.py?4' });
    assert.equal(res.status, 200, `${res.headers['proxy-status']}`);
    assert.equal(res.headers['x-peer'], 'cgi');
    assert.equal(
      res.headers['transfer-encoding'],
      'chunked',
      're-framed: the close ends the upstream body, not the client connection',
    );
    assert.equal(res.aborted, false);
    assert.equal(res.body.length, 4 * 1024);
  });

  test('a Content-Length answer cut by SIGKILL of the server: the 200 is cut short, logged http_response_incomplete', async () => {
    const res = await getUntil(`${gw.url}/py/cgi-bin/stream.py/length?400`, 2048, () =>
      python.signal('SIGKILL'),
    );
    assert.equal(res.status, 200);
    assert.equal(res.whole, false, 'never ended as if whole');
    assert.ok(res.bytes < 400 * 1024);
    const line = await gw.logFor(String(res.headers['x-request-id']));
    assert.equal(line.error, 'http_response_incomplete');
    assert.equal(line.stage, 'body_streaming');
    await python.kill();
    await python.start();
  });

  test('hung by SIGSTOP: 504 http_response_timeout on the response clock; after SIGCONT the next GET is a 200', async () => {
    // The server's listen backlog still takes the connection: the request is sent, no head comes.
    python.signal('SIGSTOP');
    let res: Awaited<ReturnType<typeof request>>;
    try {
      res = await request(gw.url, { path: '/py/index.html', headers: { accept: 'application/json' } });
    } finally {
      python.signal('SIGCONT');
    }
    assert.equal(res.status, 504);
    const status = parseProxyStatus(res.headers['proxy-status']);
    assert.equal(status.error, 'http_response_timeout');
    assert.match(String(status.details), /response timeout of 1000 ms/);
    assert.equal(status.nextHop, 'py');
    const again = await request(gw.url, { path: '/py/index.html' });
    assert.equal(again.status, 200);
    assert.match(again.text, /from python/);
  });
});

/** etcd's KV.Range for `key`, as a gRPC message frame (RangeRequest{key}). */
function rangeFrame(key: string): Buffer {
  const k = Buffer.from(key);
  const message = Buffer.concat([Buffer.from([0x0a, k.length]), k]);
  return Buffer.concat([Buffer.from([0, 0, 0, 0, message.length]), message]);
}

/** etcd's Watch.Watch create request for `key`, as a gRPC message frame. */
function watchFrame(key: string): Buffer {
  const k = Buffer.from(key);
  const create = Buffer.concat([Buffer.from([0x0a, k.length]), k]);
  const message = Buffer.concat([Buffer.from([0x0a, create.length]), create]);
  return Buffer.concat([Buffer.from([0, 0, 0, 0, message.length]), message]);
}

interface GrpcCall {
  head: http2.IncomingHttpHeaders | undefined;
  trailers: http2.IncomingHttpHeaders | undefined;
  body: Buffer;
  rstCode: number | undefined;
}

/** One gRPC call over h2c; `onFirstData` runs when the first message is in (the request side is left open when it is given). */
function grpcCall(url: string, path: string, frame: Buffer, onFirstData?: () => void): Promise<GrpcCall> {
  return new Promise((resolve) => {
    const session = http2.connect(url);
    session.on('error', () => {});
    const stream = session.request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    const call: GrpcCall = {
      head: undefined,
      trailers: undefined,
      body: Buffer.alloc(0),
      rstCode: undefined,
    };
    stream.on('response', (h) => {
      call.head = h;
    });
    stream.on('trailers', (h) => {
      call.trailers = h;
    });
    stream.on('data', (chunk: Buffer) => {
      const first = call.body.length === 0;
      call.body = Buffer.concat([call.body, chunk]);
      if (first) onFirstData?.();
    });
    stream.on('error', () => {});
    stream.on('close', () => {
      call.rstCode = stream.rstCode;
      session.close();
      resolve(call);
    });
    if (onFirstData === undefined) stream.end(frame);
    else stream.write(frame);
  });
}

describe('etcd (Go gRPC over h2c) behind the gateway', { skip: noEtcd }, () => {
  let etcd: EtcdProcess;
  let gw: TestGateway;
  before(async () => {
    etcd = await startEtcd();
    gw = await startTestGateway(
      `routes:
  - match: { path: /etcdserverpb.KV }
    upstream: etcd
  - match: { path: /etcdserverpb.Watch }
    upstream: etcd
upstreams:
  etcd:
    targets: [{ url: "${etcd.endpoint}" }]
    protocol: h2c
    timeouts: { response: 1s, read: 10s }
`,
      {},
      'http2: true',
    );
  });
  after(async () => {
    etcd?.thaw();
    await gw?.close();
    await etcd?.close();
  });

  test("a unary call is relayed exactly: the message's bytes and etcd's trailers (grpc-status 0)", async () => {
    const direct = await grpcCall(etcd.endpoint, '/etcdserverpb.KV/Range', rangeFrame('none'));
    const through = await grpcCall(gw.url, '/etcdserverpb.KV/Range', rangeFrame('none'));
    assert.equal(through.head?.[':status'], 200);
    assert.equal(through.head?.['content-type'], 'application/grpc');
    assert.equal(through.trailers?.['grpc-status'], '0');
    assert.equal(direct.trailers?.['grpc-status'], '0');
    // The header names the member and revision, the same both ways: the bytes are etcd's.
    assert.deepEqual(through.body, direct.body);
  });

  test('a call etcd refuses (unknown method) keeps its own grpc-status, untouched', async () => {
    const call = await grpcCall(gw.url, '/etcdserverpb.KV/Nope', rangeFrame('k'));
    assert.equal(call.head?.[':status'], 200);
    assert.equal(call.head?.['grpc-status'] ?? call.trailers?.['grpc-status'], '12');
    assert.equal(call.head?.['proxy-status'], undefined, "etcd's own answer, not the gateway's failure");
  });

  test('hung by SIGSTOP: DEADLINE_EXCEEDED (4) naming http_response_timeout; after SIGCONT the next call answers', async () => {
    await etcd.freeze();
    let call: GrpcCall;
    try {
      call = await grpcCall(gw.url, '/etcdserverpb.KV/Range', rangeFrame('k'));
    } finally {
      etcd.thaw();
    }
    assert.equal(call.head?.[':status'], 200);
    assert.equal(call.head?.['grpc-status'], '4');
    assert.equal(parseProxyStatus(call.head?.['proxy-status']).error, 'http_response_timeout');
    const again = await grpcCall(gw.url, '/etcdserverpb.KV/Range', rangeFrame('k'));
    assert.equal(again.trailers?.['grpc-status'], '0');
  });

  test('a Watch stream cut by SIGKILL: trailers UNAVAILABLE (14) naming http_response_incomplete, never a clean end; restarted, the pool answers', async () => {
    const call = await grpcCall(gw.url, '/etcdserverpb.Watch/Watch', watchFrame('k'), () => void etcd.kill());
    assert.equal(call.head?.[':status'], 200);
    assert.ok(call.body.length > 0, 'the created response came first');
    assert.equal(call.trailers?.['grpc-status'], '14');
    assert.match(String(call.trailers?.['grpc-message']), /^http_response_incomplete: /);
    const line = await gw.logFor(String(call.head?.['x-request-id']));
    assert.equal(line.error, 'http_response_incomplete');
    assert.equal(line.stage, 'body_streaming');
    await etcd.start();
    const again = await grpcCall(gw.url, '/etcdserverpb.KV/Range', rangeFrame('k'));
    assert.equal(again.trailers?.['grpc-status'], '0', 'no stale-connection failure after the restart');
  });
});

describe('pebble (Go net/http, h2 over TLS) behind the gateway', { skip: noPebble }, () => {
  let pebble: Pebble;
  let gw: TestGateway;
  const get = (path: string) => request(gw.url, { path });
  before(async () => {
    pebble = await startPebble({ httpPort: await freePort(), tlsPort: await freePort() });
    const { port } = new URL(pebble.directory);
    gw = await startTestGateway(`routes:
  - match: { path: /acme }
    strip_prefix: true
    upstream: pebble
upstreams:
  pebble:
    targets: [{ url: "https://localhost:${port}" }]
    protocol: h2
    tls: { ca: ${pebble.caPath} }
    timeouts: { response: 1s }
`);
  });
  after(async () => {
    await gw?.close();
    await pebble?.stop();
  });

  test("the directory is relayed over h2 as pebble wrote it; SIGKILL and a restart: the next GET is a 200, not a stale connection's 502", async () => {
    const first = await get('/acme/dir');
    assert.equal(first.status, 200);
    assert.match(String(first.headers['content-type']), /^application\/json/);
    assert.ok(JSON.parse(first.text).newNonce, 'the directory, whole');
    await pebble.restart();
    const next = await get('/acme/dir');
    assert.equal(next.status, 200, `after the restart: ${next.headers['proxy-status']}`);
    assert.ok(JSON.parse(next.text).newNonce);
  });
});

describe('Chromium over TLS (h2 by ALPN) through the gateway to Python', {
  skip: noChromium || noPython,
}, () => {
  const python = new PythonServer();
  let gw: TestGateway;
  before(async () => {
    await python.start();
    const certs = testCertificates();
    gw = await startGatewayFromText(`listen:
  - address: 127.0.0.1:0
    http2: true
    tls: { cert: ${certs.localhost.certPath}, key: ${certs.localhost.keyPath} }
routes:
  - match: { path: /py }
    strip_prefix: true
    upstream: py
upstreams:
  py:
    targets: [{ url: "http://127.0.0.1:${python.port}" }]
    timeouts: { response: 1s }
`);
  });
  after(async () => {
    await python.kill();
    await gw?.close();
  });

  test("a page from the upstream comes over h2; hung upstream: the gateway's HTML 504 page shows the request id", async () => {
    const browser = await launchChromium(join(tempDir('candor-chromium-'), 'profile'), undefined, true);
    try {
      const page = browser.pages()[0] ?? (await browser.newPage());
      page.setDefaultTimeout(15_000);
      const base = `https://localhost:${gw.port}`;
      const ok = await page.goto(`${base}/py/index.html`);
      assert.equal(ok?.status(), 200);
      assert.equal(await page.title(), 'from python');
      // Run in the page (a string: this file's types are Node's, not the DOM's).
      const protocol = await page.evaluate("performance.getEntriesByType('navigation')[0].nextHopProtocol");
      assert.equal(protocol, 'h2');
      python.signal('SIGSTOP');
      try {
        const failed = await page.goto(`${base}/py/index.html?hung`);
        assert.equal(failed?.status(), 504);
        const id = (await failed?.allHeaders())?.['x-request-id'];
        assert.ok(id);
        assert.match(String((await failed?.allHeaders())?.['content-type']), /^text\/html/);
        assert.ok((await page.textContent('body'))?.includes(id), 'the page shows the request id to quote');
      } finally {
        python.signal('SIGCONT');
      }
    } finally {
      await browser.close();
    }
  });
});
