/**
 * One request, four wires: HTTP/1.1 and HTTP/2 (h2c by prior knowledge, and h2 by ALPN over
 * TLS) on the same listeners must take the same route and send the upstream the same path
 * bytes and the same Host, or be refused with the same answer. A table of hostile paths and
 * hosts (dot-segments, escapes, slashes, NUL, overlong UTF-8, a climb above the root; case, a
 * trailing dot, a port, IPv6 literals), each sent on every wire and compared with what is
 * expected and with the other wires.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { describe, test } from 'node:test';
import tls from 'node:tls';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startGatewayFromText } from '../../helpers/test-gateway.ts';

type Wire = 'HTTP/1.1' | 'h2c' | 'HTTP/1.1 over TLS' | 'h2 over TLS';

/** What the client saw and, when it went on, what the upstream got: `path host`. */
interface Outcome {
  readonly status: number;
  readonly proxyStatus: string | undefined;
  readonly upstream: string | undefined;
}

const keep = closeAfterAll();
const app = await keep(
  listenOnLoopback((req, res) => {
    res.setHeader('x-upstream-got', `${req.url} ${req.headers.host}`);
    res.end();
  }),
);
const certs = testCertificates();
const gw = await keep(
  startGatewayFromText(`name: edge-1
listen:
  - { name: plain, address: 127.0.0.1:0, http2: true }
  - name: secure
    address: 127.0.0.1:0
    http2: true
    tls: { cert: ${certs.localhost.certPath}, key: ${certs.localhost.keyPath} }
routes:
  - name: admin
    match: { path: /admin }
    upstream: app
    maintenance: { retry_after: 90s, message: Closed. }
  - name: api
    match: { host: api.example, path: /api }
    upstream: app
    strip_prefix: true
  - name: wild
    match: { host: "*.shop.example" }
    upstream: app
    rewrite: { prefix: /shop }
  - name: v6
    match: { host: "[::1]", path: /v6 }
    upstream: app
    rewrite: { regex: "^/v6/([^/]*)/(.*)$", replace: "/six/$2/$1" }
    allow_encoded_slashes: true
  - name: catch-all
    upstream: app
upstreams:
  app:
    targets: [{ url: ${app.url} }]
`),
);
const [plainPort, securePort] = gw.gateway.listeners.map((listener) => listener.port());

/** HTTP/1.1 with the target and Host exactly as written, on a socket (node:http would resolve the target). */
async function overHttp1(socket: net.Socket, target: string, host: string): Promise<Outcome> {
  socket.write(`GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  let raw = '';
  socket.setEncoding('latin1');
  for await (const chunk of socket) raw += chunk;
  const head = raw.slice(0, raw.indexOf('\r\n\r\n')).split('\r\n');
  const field = (name: string) =>
    head.find((line) => line.toLowerCase().startsWith(`${name}: `))?.slice(name.length + 2);
  return {
    status: Number(head[0].split(' ')[1]),
    proxyStatus: field('proxy-status'),
    upstream: field('x-upstream-got'),
  };
}

async function overHttp2(url: string, target: string, authority: string): Promise<Outcome> {
  const session = http2.connect(url, { rejectUnauthorized: false });
  session.on('error', () => {});
  try {
    const head = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
      const stream = session.request({ ':path': target, ':authority': authority });
      stream.on('response', (h) => {
        stream.resume();
        stream.on('end', () => resolve(h));
      });
      stream.on('error', reject);
      stream.end();
    });
    const text = (value: string | string[] | undefined) => (value === undefined ? undefined : String(value));
    return {
      status: Number(head[':status']),
      proxyStatus: text(head['proxy-status']),
      upstream: text(head['x-upstream-got']),
    };
  } finally {
    session.close();
  }
}

async function send(wire: Wire, target: string, host: string): Promise<Outcome> {
  switch (wire) {
    case 'HTTP/1.1':
      return overHttp1(net.connect(plainPort, '127.0.0.1'), target, host);
    case 'h2c':
      return overHttp2(`http://127.0.0.1:${plainPort}`, target, host);
    case 'HTTP/1.1 over TLS':
      return overHttp1(
        tls.connect({
          port: securePort,
          host: '127.0.0.1',
          rejectUnauthorized: false,
          ALPNProtocols: ['http/1.1'],
        }),
        target,
        host,
      );
    case 'h2 over TLS':
      return overHttp2(`https://127.0.0.1:${securePort}`, target, host);
  }
}

const WIRES: readonly Wire[] = ['HTTP/1.1', 'h2c', 'HTTP/1.1 over TLS', 'h2 over TLS'];

const refused = (details: string) =>
  `edge-1; error=http_request_error; details="${details.replaceAll('"', '\\"')}"`;
const unsafe = (why: string) => refused(`the path cannot be made safe to route: the path holds ${why}`);
const CLOSED = 'edge-1; error=proxy_internal_response; details="Closed."; next-hop="app"';
const passed = (upstream: string): Outcome => ({ status: 200, proxyStatus: undefined, upstream });

/** [target, Host or :authority, what every wire must give]. */
const CASES: readonly [string, string, Outcome][] = [
  // Paths: the normal form is what is routed and what goes on; what has none is a 400.
  ['/api', 'api.example', passed('/ api.example')],
  ['/api/', 'api.example', passed('/ api.example')],
  ['/apix', 'api.example', passed('/apix api.example')],
  ['/api?q=%2e%2E&r=/../x', 'api.example', passed('/?q=%2e%2E&r=/../x api.example')],
  ['/api/x/../../api/y', 'api.example', passed('/y api.example')],
  ['//api//y', 'api.example', passed('/y api.example')],
  ['/../../../api/y', 'api.example', passed('/y api.example')],
  ['/x/%2e%2e/admin', 'www.example', { status: 503, proxyStatus: CLOSED, upstream: undefined }],
  ['/%61dmin', 'www.example', { status: 503, proxyStatus: CLOSED, upstream: undefined }],
  ['/%252e%252e/admin', 'www.example', passed('/%252e%252e/admin www.example')],
  ['/a\\..\\admin', 'www.example', { status: 400, proxyStatus: unsafe('a backslash'), upstream: undefined }],
  ['/a%00', 'www.example', { status: 400, proxyStatus: unsafe('an encoded NUL (%00)'), upstream: undefined }],
  // A segment of ";" parameters alone: "/admin" to a servlet container, which merges the "//" it leaves.
  [
    '/;jsessionid=1/admin',
    'www.example',
    {
      status: 400,
      proxyStatus: refused(
        'the path\'s ";" parameters make it another route\'s path to a server that drops them (a servlet container)',
      ),
      upstream: undefined,
    },
  ],
  ['/x/;jsessionid=1/y', 'www.example', passed('/x/;jsessionid=1/y www.example')],
  [
    '/%c0%af/admin',
    'www.example',
    {
      status: 400,
      proxyStatus: unsafe('an overlong UTF-8 sequence (such as %C0%AE for ".")'),
      upstream: undefined,
    },
  ],
  [
    '/a%2Fb',
    'www.example',
    {
      status: 400,
      proxyStatus: refused('the path holds an encoded slash (%2F or %5C), which this route does not accept'),
      upstream: undefined,
    },
  ],
  // Hosts: compared by what they name; the Host the upstream gets is the one sent.
  ['/api/y', 'API.Example.', passed('/y API.Example.')],
  ['/api/y', 'api.example:8443', passed('/y api.example:8443')],
  ['/y', 'a.shop.example', passed('/shop/y a.shop.example')],
  ['/y', 'a.b.shop.example', passed('/shop/y a.b.shop.example')],
  ['/y', 'shop.example', passed('/y shop.example')],
  ['/v6/a%2fb/c', '[::1]:80', passed('/six/c/a%2Fb [::1]:80')],
  ['/v6/a/c?k=v', '[0:0::1]', passed('/six/c/a?k=v [0:0::1]')],
  [
    '/y',
    '[1.2.3.4]',
    {
      status: 400,
      proxyStatus: refused('invalid Host header (an IP literal that is no IPv6 address)'),
      upstream: undefined,
    },
  ],
];

describe('HTTP/1.1 and HTTP/2, plain and over TLS, route and forward alike', () => {
  for (const [target, host, expected] of CASES) {
    test(`${target} for ${host}`, async () => {
      for (const wire of WIRES) assert.deepEqual(await send(wire, target, host), expected, wire);
    });
  }
});
