/**
 * A TLS request whose Host names another certificate than the one its connection's SNI chose
 * is misdirected (RFC 9110 §15.5.20): the gateway answers 421 itself, with its usual error
 * fields, and forwards nothing, over HTTP/1.1 and HTTP/2 alike (HTTP/2's connection coalescing
 * is the case 421 exists for), unless the listener has `tls.allow_misdirected`. A Host that
 * the connection's certificate serves, or that no certificate names, goes through.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { parseConfig } from '../../../src/core/config/load.ts';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { createLoggerOn } from '../../../src/observe/log/logger.ts';
import { type Gateway, startGateway } from '../../../src/server/gateway/gateway.ts';
import { certificateFor } from '../../helpers/named-certs.ts';

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** One HTTP/1.1 request on a TLS connection of its own, with this SNI (none for undefined) and Host. */
function overHttp1(
  port: number,
  servername: string | undefined,
  host: string,
  accept = 'text/plain',
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ port, host: '127.0.0.1', servername, rejectUnauthorized: false }, () => {
      socket.write(`GET /where HTTP/1.1\r\nHost: ${host}\r\nAccept: ${accept}\r\nConnection: close\r\n\r\n`);
    });
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => {
      text += chunk;
    });
    socket.on('end', () => {
      const split = text.indexOf('\r\n\r\n');
      const [statusLine, ...lines] = text.slice(0, split).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: text.slice(split + 4) });
    });
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer in 10 s')));
  });
}

/**
 * Two connections with this SNI and TLS version, the second resuming the first's session (a
 * ticket): the second one's answer to a request for `host`, and whether it was resumed.
 */
async function resumedOverHttp1(
  port: number,
  servername: string,
  host: string,
  version: tls.SecureVersion,
): Promise<{ status: number; resumed: boolean }> {
  const once = (session: Buffer | undefined) =>
    new Promise<{ status: number; resumed: boolean; session: Buffer | undefined }>((resolve, reject) => {
      let ticket: Buffer | undefined;
      const socket = tls.connect(
        {
          port,
          host: '127.0.0.1',
          servername,
          minVersion: version,
          maxVersion: version,
          rejectUnauthorized: false,
          session,
        },
        () => socket.write(`GET /where HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`),
      );
      const resumed = () => socket.isSessionReused();
      let text = '';
      let wasResumed = false;
      socket.once('secureConnect', () => {
        wasResumed = resumed();
      });
      socket.on('session', (next) => {
        ticket = next;
      });
      socket.setEncoding('utf8');
      socket.on('data', (chunk) => {
        text += chunk;
      });
      socket.on('end', () =>
        resolve({ status: Number(text.split(' ')[1]), resumed: wasResumed, session: ticket }),
      );
      socket.on('error', reject);
    });
  const first = await once(undefined);
  assert.ok(first.session, 'the first connection got a session ticket');
  const { status, resumed } = await once(first.session);
  return { status, resumed };
}

/** One HTTP/2 request on a connection made for `servername`, for `authority`. */
function overHttp2(port: number, servername: string, authority: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://127.0.0.1:${port}`, { servername, rejectUnauthorized: false });
    session.on('error', reject);
    const stream = session.request({ ':path': '/where', ':authority': authority, accept: 'text/plain' });
    let body = '';
    let headers: Record<string, string> = {};
    stream.setEncoding('utf8');
    stream.on('response', (head) => {
      headers = Object.fromEntries(Object.entries(head).map(([name, value]) => [name, String(value)]));
    });
    stream.on('data', (chunk) => {
      body += chunk;
    });
    stream.on('end', () => {
      session.close();
      resolve({ status: Number(headers[':status']), headers, body });
    });
    stream.on('error', reject);
    stream.setTimeout(10_000, () => stream.destroy(new Error('no answer in 10 s')));
  });
}

describe('a TLS request for a host of another certificate than its SNI chose', () => {
  const api = certificateFor(['api.example.com']);
  const wildcard = certificateFor(['*.example.com']);
  let app: Fault;
  let gateway: Gateway;
  let strict: number;
  let lenient: number;
  const config = () => `name: edge-1
listen:
${[false, true]
  .map(
    (allow) => `  - address: 127.0.0.1:0
    http2: true
    tls:
      cert: ${testCertificates().localhost.certPath}
      key: ${testCertificates().localhost.keyPath}
      allow_misdirected: ${allow}
      certificates:
        - { cert: ${api.certPath}, key: ${api.keyPath} }
        - { cert: ${wildcard.certPath}, key: ${wildcard.keyPath} }`,
  )
  .join('\n')}
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: ${app.url} }]
`;
  before(async () => {
    app = await startEcho();
    gateway = await startGateway(parseConfig(config(), '<test>', {}), {
      logger: createLoggerOn({ write: () => true }, 'silent', 'edge-1'),
    });
    strict = gateway.listeners[0].port();
    lenient = gateway.listeners[1].port();
  });
  after(async () => {
    await gateway.close();
    await app.close();
  });

  function assertMisdirected(answer: Answer, servername: string): void {
    assert.equal(answer.status, 421);
    assert.match(
      answer.headers['proxy-status'] ?? '',
      new RegExp(
        `^edge-1; details="www\\.example\\.com is served under another certificate than the one this connection's TLS server name \\(${servername.replaceAll('.', '\\.')}\\) chose: send it on a connection of its own"$`,
      ),
    );
    assert.equal(answer.headers['cache-control'], 'no-store');
    assert.match(answer.headers['x-request-id'] ?? '', /^[0-9a-z-]{8,}$/i);
    assert.match(answer.body, /new connection/);
  }

  test('HTTP/1.1: 421 from the gateway, nothing forwarded', async () => {
    const before = app.received.length;
    assertMisdirected(await overHttp1(strict, 'api.example.com', 'www.example.com'), 'api.example.com');
    // No SNI: the default certificate, which does not name www.example.com either.
    assertMisdirected(await overHttp1(strict, undefined, 'www.example.com'), 'none');
    // A trailing dot names the same host: it is no way around the certificate's name.
    assertMisdirected(await overHttp1(strict, 'api.example.com', 'www.example.com.'), 'api.example.com');
    assert.equal(app.received.length, before, 'the upstream received nothing');
  });

  // RFC 9110 §15.5.20: the client MAY retry it on another connection, as the advice says.
  test('its problem body calls it retryable, on a new connection, as its advice does', async () => {
    const answer = await overHttp1(strict, 'api.example.com', 'www.example.com', 'application/problem+json');
    assert.equal(answer.status, 421);
    const problem = JSON.parse(answer.body);
    assert.equal(problem.error, 'misdirected_request');
    assert.equal(problem.retryable, true);
    assert.equal(
      problem.advice,
      'Send the request again on a new connection, whose TLS server name (SNI) is its host.',
    );
  });

  test('HTTP/2: 421 on the coalesced stream, nothing forwarded', async () => {
    const before = app.received.length;
    assertMisdirected(await overHttp2(strict, 'api.example.com', 'www.example.com'), 'api.example.com');
    assert.equal(app.received.length, before, 'the upstream received nothing');
  });

  test("a host the connection's certificate serves, or that no certificate names, goes through", async () => {
    assert.equal((await overHttp1(strict, 'api.example.com', 'api.example.com')).status, 200);
    // A client that sends its SNI with the trailing dot got the default certificate, then a 421.
    assert.equal((await overHttp1(strict, 'api.example.com.', 'api.example.com.')).status, 200);
    // The wildcard certificate serves both: one certificate, no misdirection.
    assert.equal((await overHttp1(strict, 'www.example.com', 'shop.example.com:443')).status, 200);
    assert.equal((await overHttp2(strict, 'www.example.com', 'shop.example.com')).status, 200);
    // The wildcard the connection was made with carries api.example.com too, though SNI for it
    // would choose api's own certificate: the connection is as good for it (coalescing).
    assert.equal((await overHttp1(strict, 'www.example.com', 'api.example.com')).status, 200);
    assert.equal((await overHttp2(strict, 'www.example.com', 'api.example.com')).status, 200);
    assert.equal((await overHttp1(strict, 'api.example.com', 'elsewhere.test')).status, 200);
    assert.equal(app.received.at(-1)?.headers.host, 'elsewhere.test');
  });

  // OpenSSL runs no SNI callback for a resumed TLS 1.2 session, and node:tls then reports no
  // server name: read as "no SNI", every resumed connection of a host served by another
  // certificate than the default one was a 421. Which certificate the session was made under is
  // not known either, so such a connection is not judged; TLS 1.3 reports its SNI and is.
  test('a connection that resumes a TLS 1.2 session is served for its host; TLS 1.3 resumed is still judged', async () => {
    const before = app.received.length;
    assert.deepEqual(await resumedOverHttp1(strict, 'api.example.com', 'api.example.com', 'TLSv1.2'), {
      status: 200,
      resumed: true,
    });
    assert.equal(app.received.length, before + 2);
    assert.equal(app.received.at(-1)?.headers.host, 'api.example.com');
    assert.deepEqual(await resumedOverHttp1(strict, 'api.example.com', 'api.example.com', 'TLSv1.3'), {
      status: 200,
      resumed: true,
    });
    assert.deepEqual(await resumedOverHttp1(strict, 'api.example.com', 'www.example.com', 'TLSv1.3'), {
      status: 421,
      resumed: true,
    });
  });

  test('tls.allow_misdirected lets it through', async () => {
    assert.equal((await overHttp1(lenient, 'api.example.com', 'www.example.com')).status, 200);
    assert.equal((await overHttp2(lenient, 'api.example.com', 'www.example.com')).status, 200);
    assert.equal(app.received.at(-1)?.headers.host, 'www.example.com');
  });
});
