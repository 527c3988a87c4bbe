/**
 * A listener whose certificates all come from ACME (no `tls.cert`) has none for a client that
 * sends no server name (SNI), an IP address, or a name it orders none for: the handshake fails,
 * as configuration.md says. Its line and its count name that cause, not the TLS words OpenSSL
 * is left with ("no suitable signature algorithm", "no shared cipher": a handshake without a
 * certificate, which an operator would take for a cipher or version to configure). Debian's
 * pebble orders the one name for real; `openssl s_client` sends the IP as its SNI.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import tls from 'node:tls';
import { type Pebble, startPebble } from '../../helpers/pebble.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { type LogLine, startGatewayFromText, type TestGateway } from '../../helpers/test-gateway.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';

let pebble: Pebble;
let gw: TestGateway;
let tlsPort = 0;
const dir = tempDir('candor-acme-nocert-');

before(async () => {
  const httpPort = await freePort();
  tlsPort = await freePort();
  pebble = await startPebble({ httpPort, tlsPort });
  gw = await startGatewayFromText(`listen:
  - address: 127.0.0.1:${tlsPort}
    tls:
      acme: { names: [shop.test] }
acme:
  directory: ${pebble.directory}
  ca: ${pebble.caPath}
  storage: ${join(dir, 'acme')}
routes:
  - redirect: { location: "https://shop.test/" }
`);
  await waitUntil(
    'shop.test ordered',
    () => gw.gateway.status().certificates?.[0]?.state === 'valid',
    60_000,
  );
});

after(async () => {
  await gw?.close();
  await pebble?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A node:tls handshake for `servername` (undefined: no SNI): 'secure', or its error's code. */
function handshake(servername: string | undefined): Promise<string> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port: tlsPort, servername, rejectUnauthorized: false });
    socket.on('secureConnect', () => {
      socket.end();
      resolve('secure');
    });
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

/** `openssl s_client` sending `127.0.0.1` as its SNI (node:tls sends no IP there). */
function opensslWithIpSni(): Promise<void> {
  return new Promise((resolve) => {
    const client = spawn('openssl', [
      's_client',
      '-connect',
      `127.0.0.1:${tlsPort}`,
      '-servername',
      '127.0.0.1',
    ]);
    client.stdin.end();
    client.stdout.resume();
    client.stderr.resume();
    client.on('close', () => resolve());
  });
}

/** The failed-handshake lines so far, and the counter by reason. */
async function failures(): Promise<{ lines: LogLine[]; counted: Record<string, number> }> {
  const { text } = await gw.gateway.metrics.exposition();
  const counted: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const reason = /^candor_client_tls_handshake_failures_total\{.*reason="([a-z_]+)".*\} (\d+)/.exec(line);
    if (reason) counted[reason[1]] = Number(reason[2]);
  }
  return { lines: gw.logs.filter((l) => l.msg === 'TLS handshake failed'), counted };
}

test('the name ordered is served; no SNI, an IP as SNI, a name not ordered: no certificate, told so', {
  timeout: 120_000,
}, async () => {
  assert.equal(await handshake('shop.test'), 'secure');
  assert.notEqual(await handshake(undefined), 'secure');
  const first = await failures();
  assert.equal(first.lines.length, 1);
  assert.equal(first.lines[0].reason, 'no_server_certificate');
  assert.equal(
    first.lines[0].details,
    'the client sent no server name (SNI), and the listener has no default certificate (tls.cert) to serve it',
  );
  assert.deepEqual(first.counted, { no_server_certificate: 1 });
  // One line a reason a second: the next ones are counted, and told in the next second's line.
  await opensslWithIpSni();
  assert.notEqual(await handshake('other.test'), 'secure');
  await waitUntil(
    'the next line',
    () => gw.logs.filter((l) => l.msg === 'TLS handshake failed').length === 2,
  );
  const { lines, counted } = await failures();
  assert.equal(lines[1].reason, 'no_server_certificate');
  assert.equal(lines[1].sni, 'other.test');
  assert.equal(
    lines[1].details,
    'no certificate names other.test (none configured, none ordered), and the listener has no default certificate (tls.cert) to serve it',
  );
  assert.equal(lines[1].failed, 2);
  assert.deepEqual(counted, { no_server_certificate: 3 });
});
