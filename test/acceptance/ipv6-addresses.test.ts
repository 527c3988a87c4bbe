/**
 * IPv6 addresses end to end, on the loopback (::1): a gateway listening on [::1], upstream targets
 * written `http://[::1]:PORT` and `https://[::1]:PORT`, and every place the gateway names such an
 * address. What the client side already holds (a dual-stack listener's ::ffff:127.0.0.1,
 * allow/deny, PROXY TCP6, an IPv6 route host, the rate limit's /64) is in test/proxy/accept and
 * test/proxy/admit; here: what an IPv6 target is sent and how it is named (the log, Proxy-Status,
 * metrics, health probes, SNI, the admin API), and the addresses the gateway logs itself.
 * An address is `host:port` with an IPv6 host in brackets (RFC 3986 §3.2.2): `::1:8080` could be
 * the address ::1:8080 with no port.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { before, test } from 'node:test';
import type tls from 'node:tls';
import { testCertificates } from '../../src/kits/fault-kit/tls-certs.ts';
import { createTargetCheck } from '../../src/upstream/discovery/refused-targets.ts';
import { closeAfterAll } from '../helpers/keep.ts';
import { certificateFor } from '../helpers/named-certs.ts';
import { type ServeProcess, startServe } from '../helpers/serve-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { startGatewayFromText, type TestGateway } from '../helpers/test-gateway.ts';
import { freePort, waitUntil } from '../helpers/wait.ts';

const keep = closeAfterAll();

/** What an upstream saw of a request: its Host (HTTP/2: :authority), forwarding fields and peer. */
interface Seen {
  host: string | null;
  xff?: string;
  forwarded?: string;
  peer?: string;
  sni?: string | false | null;
}

function seenOf(req: http.IncomingMessage | http2.Http2ServerRequest): Seen {
  const socket = req.socket as tls.TLSSocket;
  return {
    host: (req.headers[':authority'] as string | undefined) ?? req.headers.host ?? null,
    xff: req.headers['x-forwarded-for'] as string | undefined,
    forwarded: req.headers.forwarded as string | undefined,
    peer: socket.remoteAddress,
    ...(socket.encrypted ? { sni: socket.servername } : {}),
  };
}

const answer = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => {
  const body = JSON.stringify(seenOf(req));
  res.setHeader('content-type', 'application/json');
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(body);
};

/** Starts `server` on ::1 and a free port, closed after the file. */
async function onLoopback6(server: net.Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '::1', resolve);
  });
  keep({
    close: () =>
      new Promise<void>((resolve) => {
        (server as http.Server).closeAllConnections?.();
        server.close(() => resolve());
      }),
  });
  return (server.address() as AddressInfo).port;
}

/** Writes `bytes` from ::1 and reads until the gateway closes: status line, fields, body. */
function exchange(port: number, bytes: string): Promise<{ status: number; fields: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '::1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      resolve({
        status: Number(text.slice(9, 12)),
        fields: text.slice(0, split),
        body: text.slice(split + 4),
      });
    });
    socket.on('error', reject);
    socket.write(bytes);
  });
}

const GET = (path: string, id: string, host: string) =>
  `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nX-Request-Id: ${id}\r\nConnection: close\r\n\r\n`;

let app: number;
let dead: number;
let secure: number;
let h2c: number;
let gw: TestGateway;
const probes: Seen[] = [];

before(async () => {
  app = await onLoopback6(
    http.createServer((req, res) => {
      if (req.url === '/health') probes.push(seenOf(req));
      answer(req, res);
    }),
  );
  const cert = certificateFor(['IP:::1']);
  secure = await onLoopback6(https.createServer({ cert: cert.cert, key: cert.key }, answer));
  h2c = await onLoopback6(http2.createServer(answer));
  dead = await freePort();
  gw = await keep(
    startGatewayFromText(`name: edge-6
listen:
  - address: "[::1]:0"
metrics:
  listen: "[::1]:0"
errors: { expose_upstream_address: true }
routes:
  - match: { path: /refused }
    upstream: refused
  - match: { path: /tls }
    upstream: secure
  - match: { path: /h2c }
    upstream: h2c
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets: [{ url: "http://[::1]:${app}" }]
    health_check: { path: /health, interval: 100ms }
  refused:
    targets: [{ url: "http://[::1]:${dead}" }]
    retries: { attempts: 1 }
  secure:
    targets: [{ url: "https://[::1]:${secure}" }]
    tls: { ca: ${testCertificates().caPath} }
  h2c:
    protocol: h2c
    targets: [{ url: "http://[::1]:${h2c}" }]
`),
  );
});

test('the addresses the gateway logs for its own listeners on ::1 keep their brackets: [::1]:PORT, never ::1:PORT', async () => {
  const metrics = gw.gateway.metricsPort();
  assert.deepEqual(
    gw.logs
      .filter((l) => l.msg === 'listening' || l.msg === 'serving metrics')
      .map((l) => [l.msg, l.address]),
    [
      ['listening', `[::1]:${gw.port}`],
      ['serving metrics', `[::1]:${metrics}`],
    ],
  );
  // A DNS answer naming the admin listener is refused, naming it as an address.
  assert.equal(
    createTargetCheck([], [{ host: '::1', port: 9901 }])('::1', 9901),
    "the gateway's own admin listener ([::1]:9901)",
  );
});

test('the admin API on [::1] logs its address in brackets, answers on it, and drains a target named http://[::1]:PORT', async () => {
  const dir = tempDir('candor-ipv6-admin-');
  const token = 'ipv6-admin-token-abcdefghijkl';
  writeFileSync(join(dir, 'token'), `${token}\n`, { mode: 0o600 });
  const adminPort = await freePort();
  const file = join(dir, 'candor.yaml');
  writeFileSync(
    file,
    `name: edge-6
listen:
  - address: "[::1]:0"
admin: { listen: "[::1]:${adminPort}", token_file: ${join(dir, 'token')} }
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets: [{ url: "http://[::1]:${app}" }]
`,
  );
  const serve = await startServe(file, 1, { admin: true });
  try {
    await adminOnLoopback6(serve, adminPort, token);
  } finally {
    await serve.stop();
  }
});

async function adminOnLoopback6(serve: ServeProcess, adminPort: number, token: string): Promise<void> {
  const addresses = serve.lines
    .filter((l) => l.msg === 'admin API listening' || l.msg === 'listening')
    .map((l) => String(l.admin ?? l.address).replace(/\d+$/, 'PORT'));
  assert.deepEqual(addresses.sort(), ['[::1]:PORT', '[::1]:PORT']);
  const call = (path: string, body?: unknown) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const text = body === undefined ? '' : JSON.stringify(body);
      const req = http.request({
        host: '::1',
        port: adminPort,
        method: body === undefined ? 'GET' : 'POST',
        path,
        agent: false,
        headers: { authorization: `Bearer ${token}`, 'content-length': String(Buffer.byteLength(text)) },
      });
      req.on('error', reject);
      req.on('response', (res) => {
        let got = '';
        res.on('data', (c: Buffer) => {
          got += c.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: got }));
      });
      req.end(text);
    });
  // The worker's "listening" line can come before the primary has heard it serves: "starting"
  // (503) until then, a moment longer on a loaded machine.
  await waitUntil('ready on [::1]', async () => (await call('/ready')).status === 200);
  // Any spelling of the address names the target: [0:0::1] is [::1], as a reload matches it.
  const drained = await call('/targets/drain', { upstream: 'app', target: `http://[0:0::1]:${app}` });
  assert.equal(drained.status, 200, drained.body);
  const status = JSON.parse((await call('/status')).body);
  // Who asked is named as an address is, in brackets: `::1:PORT` reads as the address ::1:PORT.
  // Logged as the answer ends: it may reach the parsed lines a moment after the answer.
  const drainLine = () => serve.lines.find((l) => l.msg === 'admin request' && l.path === '/targets/drain');
  await waitUntil('the drain logged', () => drainLine() !== undefined);
  assert.match(String(drainLine()?.who), /^\[::1\]:\d+$/);
  assert.deepEqual(status.runtime_changes, [
    { kind: 'target_state', upstream: 'app', target: `http://[::1]:${app}`, state: 'draining' },
  ]);
  assert.equal(status.upstreams.app.targets[0].url, `http://[::1]:${app}`);
  // Its only target drained, the upstream has none to take the request.
  assert.equal((await exchange(serve.port, GET('/', 'drained', 'app'))).status, 503);
}

test('an IPv6 target through a [::1] listener: what it is sent, and how the log, Proxy-Status and metrics name it', async () => {
  const authority = `[::1]:${gw.port}`;
  const cases: [
    string,
    string,
    (r: Awaited<ReturnType<typeof exchange>>, line: Record<string, unknown>) => void,
  ][] = [
    [
      'served',
      GET('/a', 'v6-served', authority),
      (r, line) => {
        assert.equal(r.status, 200, r.body);
        // The client's Host goes on as sent; the client ::1 is bracketed and quoted in Forwarded (RFC 7239 §6).
        assert.deepEqual(JSON.parse(r.body), {
          host: authority,
          xff: '::1',
          forwarded: `for="[::1]";host="${authority}";proto=http`,
          peer: '::1',
        });
        assert.deepEqual([line.client, line.host, line.target], ['::1', authority, `http://[::1]:${app}`]);
      },
    ],
    [
      // HTTP/1.0 without Host: the target's authority is sent, its brackets kept (RFC 9112 §3.2).
      'no Host',
      'GET /b HTTP/1.0\r\nX-Request-Id: v6-no-host\r\n\r\n',
      (r) => assert.equal(JSON.parse(r.body).host, `[::1]:${app}`),
    ],
    [
      'refused',
      GET('/refused', 'v6-refused', authority),
      (r, line) => {
        assert.equal(r.status, 502);
        assert.match(
          r.fields,
          new RegExp(
            `\\r\\nproxy-status: edge-6; error=connection_refused; details="connection refused \\(ECONNREFUSED\\) after [\\d.]+ ms"; next-hop="http://\\[::1\\]:${dead}"\\r\\n`,
            'i',
          ),
        );
        assert.deepEqual([line.error, line.target], ['connection_refused', `http://[::1]:${dead}`]);
      },
    ],
    [
      // An IP literal is no server name (RFC 6066 §3): no SNI; the certificate is checked by its IP SAN.
      'TLS',
      GET('/tls', 'v6-tls', authority),
      (r, line) => {
        assert.equal(r.status, 200, r.body);
        assert.deepEqual(JSON.parse(r.body), {
          host: authority,
          xff: '::1',
          forwarded: `for="[::1]";host="${authority}";proto=http`,
          peer: '::1',
          sni: false,
        });
        assert.equal(line.target, `https://[::1]:${secure}`);
      },
    ],
    [
      'h2c',
      GET('/h2c', 'v6-h2c', authority),
      (r, line) => {
        assert.equal(r.status, 200, r.body);
        assert.equal(JSON.parse(r.body).host, authority);
        assert.equal(line.target, `http://[::1]:${h2c}`);
      },
    ],
  ];
  for (const [name, bytes, check] of cases) {
    const r = await exchange(gw.port, bytes);
    const line = await gw.logFor(/X-Request-Id: (\S+)/.exec(bytes)?.[1] ?? '');
    try {
      check(r, line);
    } catch (err) {
      (err as Error).message = `${name}: ${(err as Error).message}`;
      throw err;
    }
  }
  // Its health probes ask for the target's own authority, brackets kept.
  await waitUntil('probed', () => probes.length > 0);
  assert.deepEqual([probes[0].host, probes[0].peer], [`[::1]:${app}`, '::1']);
  const metrics = await (await fetch(`http://[::1]:${gw.gateway.metricsPort()}/metrics`)).text();
  assert.match(
    metrics,
    new RegExp(
      `^candor_upstream_attempts_total\\{upstream="refused",target="http://\\[::1\\]:${dead}",outcome="connection_refused"`,
      'm',
    ),
  );
  assert.match(
    metrics,
    new RegExp(
      `^candor_health_checks_total\\{upstream="app",target="http://\\[::1\\]:${app}",result="success"`,
      'm',
    ),
  );
});
