/**
 * The server name Candor sends a TLS upstream (SNI), and the sessions it resumes there. A host
 * name target sends its name; an IP-literal target sends none (RFC 6066 §3: "Literal IPv4 and
 * IPv6 addresses are not permitted"), unless `tls.servername` names one, which is then sent for
 * either. A session is resumed only with the name it was made for: two upstreams on one address
 * and port under two names never offer each other's (nginx, whose two locations proxy to one
 * address, resumed the first name's session for the second). Candor keeps sessions per upstream,
 * per name and per target (connector.ts), and OpenSSL's client offers none made under another SNI
 * either: both guards would have to fail. Two targets under one name each resume their own. Each
 * answer says `Connection: close`, so each request is a handshake of its own.
 */
import assert from 'node:assert/strict';
import { constants } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import tls from 'node:tls';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { request } from '../../helpers/http-client.ts';
import { certificateFor } from '../../helpers/named-certs.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const certificates = testCertificates();
/** Each handshake a server saw: the name sent (`-` for none) and whether it resumed a session. */
const seen: Record<string, string[]> = {};
const servers: tls.Server[] = [];
let gw: TestGateway;
/**
 * The TLS 1.2 server's session cache (session IDs, no tickets): the name each session was made
 * under (the request under way when it was made), and the name of each session a client offered.
 */
const sessionNames = new Map<string, string>();
const offered: string[] = [];
let askingFor = '';

async function serve(
  label: string,
  pair: { cert: string; key: string },
  options: tls.TlsOptions = {},
  host = '127.0.0.1',
  at = 0,
) {
  seen[label] = [];
  const server = tls.createServer({ ...pair, ...options }, (socket) => {
    socket.on('error', () => {});
    seen[label].push(`${socket.servername || '-'} ${socket.isSessionReused() ? 'resumed' : 'full'}`);
    socket.once('data', () =>
      socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok'),
    );
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(at, host, resolve));
  return (server.address() as AddressInfo).port;
}

before(async () => {
  const names = certificateFor(['up.test', 'other.test']);
  const local = await serve('local', certificates.localhost);
  const tls12 = await serve('tls12', names, {
    maxVersion: 'TLSv1.2',
    secureOptions: constants.SSL_OP_NO_TICKET,
  });
  const cache = new Map<string, Buffer>();
  servers[1].on('newSession', (id: Buffer, data: Buffer, done: () => void) => {
    cache.set(id.toString('hex'), data);
    sessionNames.set(id.toString('hex'), askingFor);
    done();
  });
  servers[1].on('resumeSession', (id: Buffer, done: (err: null, data: Buffer | null) => void) => {
    // A client that offers TLS 1.3 sends a random legacy session ID in every first hello (RFC
    // 8446 §D.4): one this server never made, not a session offered.
    const name = sessionNames.get(id.toString('hex'));
    if (name !== undefined) offered.push(name);
    done(null, cache.get(id.toString('hex')) ?? null);
  });
  const tls13 = await serve('tls13', names);
  const dotted = await serve('dotted', names);
  // Two servers of one name at one port of two addresses: a fleet behind IP targets.
  const fleet = await serve('fleetA', names);
  await serve('fleetB', names, {}, '127.0.0.2', fleet);
  const upstreams: Record<string, string> = {
    byName: `https://localhost:${local}`,
    byAddress: `https://127.0.0.1:${local}`,
    up12: `https://127.0.0.1:${tls12}`,
    other12: `https://127.0.0.1:${tls12}`,
    up13: `https://localhost:${tls13}`,
    other13: `https://localhost:${tls13}`,
    dotted: `https://127.0.0.1:${dotted}`,
    fleet: `https://127.0.0.1:${fleet}`,
  };
  const servername: Record<string, string> = {
    up12: 'up.test',
    other12: 'other.test',
    up13: 'up.test',
    other13: 'other.test',
    dotted: 'up.test.',
    fleet: 'up.test',
  };
  let yaml = 'name: edge-1\nroutes:\n';
  for (const name of Object.keys(upstreams)) yaml += `  - match: { path: /${name} }\n    upstream: ${name}\n`;
  yaml += 'upstreams:\n';
  for (const [name, url] of Object.entries(upstreams)) {
    const sni = servername[name] === undefined ? '' : `, servername: ${servername[name]}`;
    const second = name === 'fleet' ? `, { url: "${url.replace('127.0.0.1', '127.0.0.2')}" }` : '';
    yaml += `  ${name}:\n    targets: [{ url: "${url}" }${second}]\n    tls: { ca: ${certificates.caPath}${sni} }\n`;
  }
  gw = await startTestGateway(yaml);
});

after(async () => {
  await gw?.close();
  for (const server of servers) server.close();
});

async function ok(path: string): Promise<void> {
  askingFor = path.startsWith('/up') ? 'up.test' : 'other.test';
  const res = await request(gw.url, { path });
  assert.equal(res.status, 200, `${path}: ${res.headers['proxy-status']}`);
}

test('a host name target sends its name; an IP-literal target sends none', async () => {
  await ok('/byName');
  await ok('/byAddress');
  assert.deepEqual(
    seen.local.map((s) => s.split(' ')[0]),
    ['localhost', '-'],
  );
});

test('a name written with its trailing dot (an absolute name) is sent without it: RFC 6066 §3, and a Go server refuses the hello', async () => {
  await ok('/dotted');
  assert.deepEqual(seen.dotted, ['up.test full']);
});

for (const version of ['12', '13'] as const) {
  test(`TLS 1.${version[1]}: tls.servername is sent, and a session is resumed for its own name only`, async () => {
    await ok(`/up${version}`);
    await ok(`/up${version}`);
    await ok(`/other${version}`);
    await ok(`/other${version}`);
    // node:tls reports no name for a resumed TLS 1.2 session (OpenSSL runs no SNI callback then).
    const up = 'up.test';
    const other = 'other.test';
    const resumedName = (name: string) => (version === '12' ? '-' : name);
    assert.deepEqual(seen[`tls${version}`], [
      `${up} full`,
      `${resumedName(up)} resumed`,
      `${other} full`,
      `${resumedName(other)} resumed`,
    ]);
    // The client's own choice, seen at the server: it offered each name's session to that name
    // alone (a server may refuse one made for another name, but need not: the client must not offer it).
    if (version === '12') assert.deepEqual(offered, [up, other]);
  });
}

test('two targets under one tls.servername, at one port of two addresses: each resumes its own session', async () => {
  // Keyed by the name and port alone, the sessions of the two were one: each new connection
  // offered the other target's session, and round robin never resumed one (nginx keeps a session per server).
  for (let i = 0; i < 4; i++) await ok('/fleet');
  assert.deepEqual(seen.fleetA, ['up.test full', 'up.test resumed']);
  assert.deepEqual(seen.fleetB, ['up.test full', 'up.test resumed']);
});
