/**
 * listen[].proxy_protocol on real sockets: a listed source's PROXY header (v1, v2 TCP4, TCP6,
 * LOCAL) names the client in X-Forwarded-For and the access log; a header from a source not
 * listed is refused, and so is a listed source's connection without one; TLS and h2c behind a
 * header work.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import tls from 'node:tls';
import { ConfigError } from '../../../src/core/config/config-error.ts';
import { parseConfig } from '../../../src/core/config/load.ts';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { pacedHandshake } from '../../helpers/paced-tls.ts';
import { balancer, v2Header } from '../../helpers/proxy-header.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import {
  singleUpstream,
  startGatewayFromText,
  startTestGateway,
  type TestGateway,
} from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const keep = closeAfterAll();

/** An upstream that answers with the headers it received, as JSON. */
const echoHeaders = () =>
  keep(
    listenOnLoopback((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(req.headers));
    }),
  );

interface Outcome {
  /** The answer's text (empty when the connection was closed unanswered). */
  readonly text: string;
  /** Whether the gateway closed the connection. */
  readonly closed: boolean;
}

/** Opens a connection, writes `bytes` (a header and a request, in one write), reads until the gateway closes. */
function exchange(port: number, bytes: Buffer, host = '127.0.0.1'): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, host);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closed: false });
    }, 5000);
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closed: true });
    };
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', done);
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? done() : reject(err)));
    socket.write(bytes);
  });
}

const GET = (id: string) =>
  `GET /who HTTP/1.1\r\nHost: app\r\nX-Request-Id: ${id}\r\nConnection: close\r\n\r\n`;

/** The headers the upstream received, from the echoed JSON body. */
function upstreamSaw(text: string): Record<string, string> {
  assert.match(text, /^HTTP\/1\.1 200 /, text);
  return JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));
}

function tcp4Body(a: number[]): Buffer {
  return Buffer.from([...a, 10, 0, 0, 1, 0xdc, 0x04, 0x01, 0xbb]);
}

describe('PROXY protocol from a listed source', () => {
  let gw: TestGateway;
  test('setup', async () => {
    const app = await echoHeaders();
    // The first listener for the cases below, then one for each of the hostile ones at the end:
    // a listener tells its refusals at most once a second (report-every-second.ts), so on one
    // listener each hostile case waited up to a second for its line.
    const listeners = ['listed', ...hostile.map((_, i) => `hostile-${i}`)].map(
      (name) =>
        `  - address: 127.0.0.1:0\n    name: ${name}\n    proxy_protocol: { from: [127.0.0.0/8] }\n    http2: true\n`,
    );
    gw = await keep(startGatewayFromText(`listen:\n${listeners.join('')}${singleUpstream(app.url)}`));
  });

  const cases: [string, Buffer, string][] = [
    ['v1 TCP4', Buffer.from('PROXY TCP4 203.0.113.7 10.0.0.1 56324 443\r\n'), '203.0.113.7'],
    ['v1 TCP6', Buffer.from('PROXY TCP6 2001:db8::7 2001:db8::1 56324 443\r\n'), '2001:db8::7'],
    // As a socket's own address is written (and a v2 header's), whatever the balancer's spelling.
    [
      'v1 TCP6 in capitals and in full',
      Buffer.from('PROXY TCP6 2001:DB8:0:0:0:0:0:7 2001:db8::1 56324 443\r\n'),
      '2001:db8::7',
    ],
    ['v1 UNKNOWN (the peer stands)', Buffer.from('PROXY UNKNOWN\r\n'), '127.0.0.1'],
    ['v2 TCP4', v2Header(1, 0x11, tcp4Body([198, 51, 100, 9])), '198.51.100.9'],
    [
      'v2 TCP6',
      v2Header(
        1,
        0x21,
        Buffer.concat([Buffer.from('20010db8000000000000000000000042', 'hex'), Buffer.alloc(20)]),
      ),
      '2001:db8::42',
    ],
    // A balancer whose client came over UDP (QUIC) may name it so.
    ['v2 UDP4', v2Header(1, 0x12, tcp4Body([192, 0, 2, 33])), '192.0.2.33'],
    ['v2 LOCAL (the peer stands)', v2Header(0, 0x00, Buffer.alloc(0)), '127.0.0.1'],
  ];
  for (const [name, header, client] of cases) {
    test(`${name}: the client is ${client} in X-Forwarded-For and the access log`, async () => {
      const id = `pp-${name.replace(/\W+/g, '-')}`;
      const outcome = await exchange(gw.port, Buffer.concat([header, Buffer.from(GET(id))]));
      const saw = upstreamSaw(outcome.text);
      assert.equal(saw['x-forwarded-for'], client);
      // RFC 7239: an IPv6 node in brackets, quoted.
      assert.equal(
        saw.forwarded,
        `for=${client.includes(':') ? `"[${client}]"` : client};host=app;proto=http`,
      );
      assert.equal((await gw.logFor(id)).client, client);
    });
  }

  test('a header that arrives in pieces, the request after it in another write', async () => {
    const socket = net.connect(gw.port, '127.0.0.1');
    let text = '';
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
    });
    const ended = new Promise((resolve) => socket.on('end', resolve));
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('PROXY TCP4 192.0.2');
    await new Promise((resolve) => setTimeout(resolve, 50));
    socket.write('.1 10.0.0.1 1 2\r\n');
    await new Promise((resolve) => setTimeout(resolve, 50));
    socket.write(GET('pp-pieces'));
    await ended;
    assert.equal(upstreamSaw(text)['x-forwarded-for'], '192.0.2.1');
  });

  test('h2c behind the header: the stream names the client too', async () => {
    const socket = net.connect(gw.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('PROXY TCP4 192.0.2.55 10.0.0.1 1 2\r\n');
    const session = http2.connect(`http://127.0.0.1:${gw.port}`, { createConnection: () => socket });
    const body = await new Promise<string>((resolve, reject) => {
      const stream = session.request({ ':path': '/who', 'x-request-id': 'pp-h2c' });
      let text = '';
      stream.setEncoding('utf8');
      stream.on('data', (c: string) => {
        text += c;
      });
      stream.on('end', () => resolve(text));
      stream.on('error', reject);
    });
    session.close();
    assert.equal(JSON.parse(body)['x-forwarded-for'], '192.0.2.55');
    assert.equal((await gw.logFor('pp-h2c')).client, '192.0.2.55');
  });

  test('a connection without a header is refused, unanswered, and the refusal is logged', async () => {
    const outcome = await exchange(gw.port, Buffer.from(GET('pp-missing')));
    assert.deepEqual(outcome, { text: '', closed: true });
    const line = gw.logs.find((l) => l.msg === 'PROXY protocol: connection refused');
    assert.ok(line, JSON.stringify(gw.logs));
    assert.equal(line.reason, 'no PROXY header from a source in proxy_protocol.from');
    assert.equal(line.client, '127.0.0.1');
  });

  test('an invalid header is refused, unanswered', async () => {
    const outcome = await exchange(
      gw.port,
      Buffer.from(`PROXY TCP4 2001:db8::1 10.0.0.1 1 2\r\n${GET('pp-bad')}`),
    );
    assert.deepEqual(outcome, { text: '', closed: true });
  });

  const hostile = [
    ['a v1 zone index', Buffer.from('PROXY TCP6 fe80::7%eth0 fe80::1 1 2\r\n'), /not TCP6/],
    [
      'a v2 version 3',
      Buffer.from([...v2Header(1, 0x11, tcp4Body([1, 2, 3, 4]))].map((b, i) => (i === 12 ? 0x31 : b))),
      /version 3/,
    ],
    ['a v2 length past its bound', v2Header(1, 0x11, Buffer.alloc(4096)), /past 2048/],
    ['a v2 TCP4 body too short', v2Header(1, 0x11, Buffer.alloc(6)), /too short/],
    ['a v2 family the spec does not define', v2Header(1, 0x41, tcp4Body([1, 2, 3, 4])), /0x41/],
    [
      'a v2 TLV whose length runs past the header',
      v2Header(1, 0x11, Buffer.concat([tcp4Body([1, 2, 3, 4]), Buffer.from([0xea, 0x01, 0x00, 0x41])])),
      /TLV \(type 0xea\) of 256 bytes that runs past the header/,
    ],
  ] as const;
  for (const [index, [name, header, reason]] of hostile.entries()) {
    test(`hostile bytes from a listed source, refused unanswered with the reason logged: ${name}`, async () => {
      const seen = gw.logs.length;
      const port = gw.gateway.listeners[index + 1].port();
      const outcome = await exchange(port, Buffer.concat([header, Buffer.from(GET('pp-hostile'))]));
      assert.deepEqual(outcome, { text: '', closed: true });
      // Refusals are told at most once a second, each line with the last one's reason: this
      // listener's first.
      await waitUntil(`a refusal logged with ${reason}`, () =>
        gw.logs
          .slice(seen)
          .some((l) => l.msg === 'PROXY protocol: connection refused' && reason.test(String(l.reason))),
      );
    });
  }
});

describe('PROXY protocol from a source not listed', () => {
  let gw: TestGateway;
  test('setup', async () => {
    const app = await echoHeaders();
    gw = await keep(startTestGateway(singleUpstream(app.url), {}, 'proxy_protocol: { from: [10.0.0.0/8] }'));
  });

  test('a header is refused: anyone could claim any address', async () => {
    for (const header of [
      Buffer.from('PROXY TCP4 203.0.113.7 10.0.0.1 56324 443\r\n'),
      v2Header(1, 0x11, tcp4Body([198, 51, 100, 9])),
    ]) {
      const outcome = await exchange(gw.port, Buffer.concat([header, Buffer.from(GET('pp-unlisted'))]));
      assert.deepEqual(outcome, { text: '', closed: true });
    }
    assert.equal(gw.logs.filter((l) => l.msg === 'request').length, 0);
  });

  test('a plain request is served, its peer the client', async () => {
    const outcome = await exchange(gw.port, Buffer.from(GET('pp-plain')));
    assert.equal(upstreamSaw(outcome.text)['x-forwarded-for'], '127.0.0.1');
  });
});

describe('TLS behind a PROXY header', () => {
  let gw: TestGateway;
  const certs = testCertificates();
  test('setup', async () => {
    const app = await echoHeaders();
    gw = await keep(
      startTestGateway(
        singleUpstream(app.url),
        {},
        `tls: { cert: ${certs.localhost.certPath}, key: ${certs.localhost.keyPath} }\n    proxy_protocol: { from: [127.0.0.1] }\n    http2: true`,
      ),
    );
  });

  for (const [name, header] of [
    ['v1', Buffer.from('PROXY TCP4 203.0.113.70 10.0.0.1 56324 443\r\n')],
    ['v2', v2Header(1, 0x11, tcp4Body([203, 0, 113, 70]))],
  ] as const) {
    test(`${name}: the header before the ClientHello; the client is the header's`, async () => {
      const raw = net.connect(gw.port, '127.0.0.1');
      await new Promise((resolve) => raw.once('connect', resolve));
      raw.write(header);
      const socket = tls.connect({
        socket: raw,
        servername: 'localhost',
        ca: certs.ca,
        ALPNProtocols: ['http/1.1'],
      });
      let text = '';
      socket.on('data', (c: Buffer) => {
        text += c.toString('latin1');
      });
      await new Promise((resolve, reject) => {
        socket.once('secureConnect', resolve);
        socket.once('error', reject);
      });
      socket.write(GET(`pp-tls-${name}`));
      await new Promise((resolve) => socket.on('end', resolve));
      socket.destroy();
      assert.equal(upstreamSaw(text)['x-forwarded-for'], '203.0.113.70');
      assert.equal((await gw.logFor(`pp-tls-${name}`)).client, '203.0.113.70');
    });
  }

  test('HTTP/2 over TLS behind the header', async () => {
    const raw = net.connect(gw.port, '127.0.0.1');
    await new Promise((resolve) => raw.once('connect', resolve));
    raw.write('PROXY TCP4 203.0.113.71 10.0.0.1 1 2\r\n');
    const session = http2.connect(`https://localhost:${gw.port}`, {
      createConnection: () =>
        tls.connect({ socket: raw, servername: 'localhost', ca: certs.ca, ALPNProtocols: ['h2'] }),
    });
    const body = await new Promise<string>((resolve, reject) => {
      const stream = session.request({ ':path': '/who', 'x-request-id': 'pp-h2-tls' });
      let text = '';
      stream.setEncoding('utf8');
      stream.on('data', (c: string) => {
        text += c;
      });
      stream.on('end', () => resolve(text));
      stream.on('error', reject);
    });
    session.close();
    assert.equal(JSON.parse(body)['x-forwarded-for'], '203.0.113.71');
  });

  test('a TLS handshake without the header is refused', async () => {
    const error = await new Promise<Error | undefined>((resolve) => {
      const socket = tls.connect({ port: gw.port, host: '127.0.0.1', servername: 'localhost', ca: certs.ca });
      socket.once('secureConnect', () => {
        socket.destroy();
        resolve(undefined);
      });
      socket.once('error', resolve);
    });
    assert.ok(error, 'the handshake must not complete');
  });
});

describe('PROXY protocol: the header deadline and reloads', () => {
  test('a listed source that sends nothing within limits.header_timeout is refused', async () => {
    const app = await echoHeaders();
    const gw = await keep(
      startTestGateway(
        `${singleUpstream(app.url)}\nlimits: { header_timeout: 200ms }\n`,
        {},
        'proxy_protocol: { from: [127.0.0.1] }',
      ),
    );
    const outcome = await exchange(gw.port, Buffer.from('PROXY TCP4 1.2.3.4'));
    assert.deepEqual(outcome, { text: '', closed: true });
    const line = gw.logs.find((l) => l.msg === 'PROXY protocol: connection refused');
    assert.equal(line?.reason, 'no PROXY header within the header timeout');
  });

  test('a source not listed whose PROXY header stalls half-way is refused, saying so (not closed in silence)', async () => {
    const app = await echoHeaders();
    const gw = await keep(
      startTestGateway(
        `${singleUpstream(app.url)}\nlimits: { header_timeout: 200ms }\n`,
        {},
        'proxy_protocol: { from: [10.0.0.0/8] }',
      ),
    );
    const outcome = await exchange(gw.port, Buffer.from('PROXY TCP4 1.2.3.4'));
    assert.deepEqual(outcome, { text: '', closed: true });
    const line = gw.logs.find((l) => l.msg === 'PROXY protocol: connection refused');
    assert.equal(
      line?.reason,
      'a PROXY header not whole within the header timeout, from a source not in proxy_protocol.from',
    );
  });

  test('the deadline counts from the connection, not from the last byte: a header sent a byte at a time is cut', async () => {
    const app = await echoHeaders();
    const gw = await keep(
      startTestGateway(
        `${singleUpstream(app.url)}\nlimits: { header_timeout: 300ms }\n`,
        {},
        'proxy_protocol: { from: [127.0.0.1] }',
      ),
    );
    const socket = net.connect(gw.port, '127.0.0.1');
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => {});
    let over = false;
    void closed.then(() => {
      over = true;
    });
    await new Promise((resolve) => socket.once('connect', resolve));
    // A byte every 100 ms: 4.4 s of a header that never completes, against a deadline of 300 ms.
    const drip = 'PROXY TCP6 2001:db8::1 2001:db8::2 56324 443';
    let sent = 0;
    for (const byte of drip) {
      if (over) break;
      socket.write(byte);
      sent++;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await closed;
    assert.ok(sent < drip.length, `the gateway waited for all ${sent} bytes`);
    const line = gw.logs.find((l) => l.msg === 'PROXY protocol: connection refused');
    assert.equal(line?.reason, 'no PROXY header within the header timeout');
  });

  test('the request head has what is left of the header timeout after the wait for its first byte, not all of it again', async () => {
    // A client not in `from` whose first byte came 700 ms into a 1 s header timeout, its head
    // 700 ms later: the gate's wait was not counted, and the head went through at 1.4 s.
    const app = await echoHeaders();
    const gw = await keep(
      startTestGateway(
        `${singleUpstream(app.url)}\nlimits: { header_timeout: 1s }\n`,
        {},
        'proxy_protocol: { from: [10.0.0.0/8] }',
      ),
    );
    const socket = net.connect(gw.port, '127.0.0.1');
    let text = '';
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
    });
    socket.on('error', () => {});
    const closed = new Promise((resolve) => socket.once('close', resolve));
    const pause = () => new Promise((resolve) => setTimeout(resolve, 700));
    await pause();
    socket.write('G');
    await pause();
    socket.write(`ET /who HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n`);
    await closed;
    assert.match(text, /^HTTP\/1\.1 408 /);
  });

  test('on a TLS listener the handshake counts from the accept too: a client not in `from` that waits before its ClientHello has that much less for it', async () => {
    // Without proxy_protocol Node's own bound (header_timeout) starts at the accept; the gate's
    // wait for the first byte began it anew, so a ClientHello whose first byte came 700 ms into
    // a 1 s header timeout, its rest 700 ms later, made a handshake at 1.4 s and a request served.
    const app = await echoHeaders();
    const certs = testCertificates();
    const gw = await keep(
      startTestGateway(
        `${singleUpstream(app.url)}\nlimits: { header_timeout: 1s }\n`,
        {},
        `tls: { cert: ${certs.localhost.certPath}, key: ${certs.localhost.keyPath} }\n    proxy_protocol: { from: [10.0.0.0/8] }`,
      ),
    );
    // In time (its first byte at 200 ms, its rest at 400 ms): served.
    const inTime = await pacedHandshake(gw.port, certs.ca, [400], GET('pp-tls-hello-in-time'));
    assert.equal(inTime.secure, true);
    assert.match(inTime.text, /^HTTP\/1\.1 200 /);
    // The ClientHello's first byte at 700 ms, its rest at 1.4 s: cut at 1 s, the handshake unfinished.
    const { secure, text } = await pacedHandshake(gw.port, certs.ca, [1400], GET('pp-tls-slow-hello'));
    assert.equal(secure, false, `the handshake went through after the header timeout: ${text}`);
    assert.equal(text, '');
  });

  test('a reload may change `from` (it applies to new connections), not turn the protocol on or off', async () => {
    const app = await echoHeaders();
    const yaml = singleUpstream(app.url);
    const gw = await keep(startTestGateway(yaml, {}, 'proxy_protocol: { from: [10.0.0.0/8] }'));
    const header = Buffer.from(`PROXY TCP4 203.0.113.9 10.0.0.1 1 2\r\n${GET('pp-reload')}`);
    assert.deepEqual(await exchange(gw.port, header), { text: '', closed: true });
    await gw.gateway.reload(
      parseConfig(
        `listen:\n  - address: 127.0.0.1:0\n    proxy_protocol: { from: [127.0.0.1] }\n${yaml}`,
        '<test>',
        {},
      ),
    );
    assert.equal(upstreamSaw((await exchange(gw.port, header)).text)['x-forwarded-for'], '203.0.113.9');
    await assert.rejects(
      gw.gateway.reload(parseConfig(`listen:\n  - address: 127.0.0.1:0\n${yaml}`, '<test>', {})),
      (err) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(
          err.problems.map((p) => p.path),
          ['listen[0].proxy_protocol'],
        );
        assert.match(
          err.problems[0].message,
          /cannot turn the PROXY protocol off for 127\.0\.0\.1:0 on a reload/,
        );
        return true;
      },
    );
  });
});

test('rate-limit keys and {client_ip} are the header’s client, not the balancer’s address', async () => {
  const app = await echoHeaders();
  const gw = await keep(
    startTestGateway(
      `name: edge-1
routes:
  - match: { path: / }
    upstream: app
    rate_limit: { rate: 0.001, burst: 1, key: client }
    request_headers: { set: { X-Client: "{client_ip}" } }
upstreams:
  app:
    targets:
      - url: ${app.url}
`,
      {},
      'proxy_protocol: { from: [127.0.0.1] }',
    ),
  );
  const from = (client: string, id: string) =>
    exchange(gw.port, Buffer.from(`PROXY TCP4 ${client} 10.0.0.1 1 2\r\n${GET(id)}`));
  assert.equal(upstreamSaw((await from('192.0.2.10', 'rl-a1')).text)['x-client'], '192.0.2.10');
  assert.match((await from('192.0.2.10', 'rl-a2')).text, /^HTTP\/1\.1 429 /);
  assert.equal(upstreamSaw((await from('192.0.2.11', 'rl-b1')).text)['x-client'], '192.0.2.11');
});

test('on a dual-stack listener, `from: [127.0.0.1]` is met by an IPv4 peer (::ffff:127.0.0.1 on the socket), not by ::1', async () => {
  const app = await echoHeaders();
  const gw = await keep(
    startGatewayFromText(`name: edge-1
listen:
  - address: "[::]:0"
    proxy_protocol: { from: [127.0.0.1] }
${singleUpstream(app.url).replace('name: edge-1\n', '')}`),
  );
  const header = 'PROXY TCP4 203.0.113.20 10.0.0.1 1 2\r\n';
  const listed = await exchange(gw.port, Buffer.from(header + GET('pp-v4-mapped')), '127.0.0.1');
  assert.equal(upstreamSaw(listed.text)['x-forwarded-for'], '203.0.113.20');
  assert.equal((await gw.logFor('pp-v4-mapped')).client, '203.0.113.20');
  // ::1 is not listed: its header is refused, and its plain request is served as its own.
  assert.deepEqual(await exchange(gw.port, Buffer.from(header + GET('pp-v6-header')), '::1'), {
    text: '',
    closed: true,
  });
  const plain = await exchange(gw.port, Buffer.from(GET('pp-v6-plain')), '::1');
  assert.equal(upstreamSaw(plain.text)['x-forwarded-for'], '::1');
  // The refusal names the peer as every request line does (it said ::ffff:127.0.0.1).
  const refused = await exchange(gw.port, Buffer.from(GET('pp-v4-no-header')), '127.0.0.1');
  assert.deepEqual(refused, { text: '', closed: true });
  // Within a second of the one before: it is told in the next line of the count (at most one a second).
  const noHeader = () =>
    gw.logs.find(
      (l) => l.msg === 'PROXY protocol: connection refused' && /^no PROXY header/.test(String(l.reason)),
    );
  await waitUntil('the refusal logged', () => noHeader() !== undefined);
  assert.equal(noHeader()?.client, '127.0.0.1');
});

test('a TLS listener that orders certificates (acme) behind the header: the handshake and the request go through', async () => {
  const app = await echoHeaders();
  const certs = testCertificates();
  const storage = join(tempDir('candor-pp-acme-'), 'acme');
  const gw = await keep(
    startGatewayFromText(`name: edge-1
listen:
  - address: 127.0.0.1:0
    tls: { cert: ${certs.localhost.certPath}, key: ${certs.localhost.keyPath}, acme: { names: [shop.test] } }
    proxy_protocol: { from: [127.0.0.1] }
acme:
  directory: https://127.0.0.1:1/directory
  challenges: [tls-alpn-01]
  storage: ${storage}
limits: { header_timeout: 2s }
${singleUpstream(app.url).replace('name: edge-1\n', '')}`),
  );
  const { port } = await keep(balancer(gw.port, 'PROXY TCP4 203.0.113.80 10.0.0.1 56324 443\r\n'));
  const socket = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: certs.ca });
  let text = '';
  socket.on('data', (c: Buffer) => {
    text += c.toString('latin1');
  });
  // Before the fix the ALPN stage never read the paused socket: the handshake waited out the header timeout.
  await new Promise((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  socket.write(GET('pp-acme-tls'));
  await new Promise((resolve) => socket.on('end', resolve));
  socket.destroy();
  assert.equal(upstreamSaw(text)['x-forwarded-for'], '203.0.113.80');
  assert.equal((await gw.logFor('pp-acme-tls')).client, '203.0.113.80');
});

test("IP lists and per_client.connections judge the header's client, not the balancer's address", async () => {
  const app = await echoHeaders();
  const gw = await keep(
    startTestGateway(
      `name: edge-1
routes:
  - match: { path: / }
    upstream: app
    deny: [192.0.2.0/24]
upstreams:
  app:
    targets:
      - url: ${app.url}
limits:
  per_client:
    connections: 1
`,
      {},
      'proxy_protocol: { from: [127.0.0.1] }',
    ),
  );
  const header = (client: string) => `PROXY TCP4 ${client} 10.0.0.1 1 2\r\n`;
  const denied = await exchange(gw.port, Buffer.from(`${header('192.0.2.7')}${GET('pp-deny')}`));
  assert.match(denied.text, /^HTTP\/1\.1 403 /);
  assert.match(denied.text, /\r\nproxy-status: edge-1; error=http_request_denied/i);
  const line = await gw.logFor('pp-deny');
  assert.equal(line.client, '192.0.2.7');
  assert.match(String(line.auth), /^denied: ip /);
  // One client holds its one connection open (keep-alive): another client of the same balancer is served.
  const held = net.connect(gw.port, '127.0.0.1');
  keep(Promise.resolve({ close: async () => void held.destroy() }));
  let heldText = '';
  held.on('data', (c: Buffer) => {
    heldText += c.toString('latin1');
  });
  held.write(`${header('198.51.100.1')}GET /who HTTP/1.1\r\nHost: app\r\n\r\n`);
  await waitUntil('the kept connection answered', () => heldText.startsWith('HTTP/1.1 200 '));
  const other = await exchange(gw.port, Buffer.from(`${header('198.51.100.2')}${GET('pp-other')}`));
  assert.equal(upstreamSaw(other.text)['x-forwarded-for'], '198.51.100.2');
  // The first client's second connection is past its limit.
  const second = await exchange(gw.port, Buffer.from(`${header('198.51.100.1')}${GET('pp-second')}`));
  assert.match(second.text, /^HTTP\/1\.1 429 /);
  assert.equal((await gw.logFor('pp-second')).client, '198.51.100.1');
});

test('a PROXY header (v1 or v2) sent to a listener without proxy_protocol: the 400 says what it is and the setting that takes it', async () => {
  const app = await echoHeaders();
  const gw = await keep(startTestGateway(singleUpstream(app.url)));
  const headers: [string, Buffer][] = [
    ['v1', Buffer.from('PROXY TCP4 203.0.113.7 10.0.0.1 56324 443\r\n')],
    ['v2', v2Header(1, 0x11, tcp4Body([198, 51, 100, 9]))],
  ];
  for (const [version, header] of headers) {
    const { text } = await exchange(gw.port, Buffer.concat([header, Buffer.from(GET(version))]));
    assert.match(text, /^HTTP\/1\.1 400 /, version);
    assert.match(
      text,
      new RegExp(
        `\\r\\nproxy-status: edge-1; error=http_request_error; details="malformed request \\(HPE_INVALID_METHOD: a PROXY protocol header \\(${version}\\), which this listener does not take: set listen\\[\\]\\.proxy_protocol with the balancer's address in its from\\)"\\r\\n`,
      ),
      version,
    );
  }
});
