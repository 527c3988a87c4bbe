/**
 * The gateway's event lines (pino's in a worker, primary-log.ts's in the primary) quoting what a
 * client or peer chose: a TLS client's SNI name, an admin request's Host. Both reach the line as
 * Latin-1 text, each byte a character, so a byte 0x9b is U+009B, C1's CSI (ESC `[` to a terminal
 * that obeys C1), which JSON.stringify leaves raw. The access line writes such characters as
 * `\u` escapes (hostile-line-text.test.ts); an event line must too, and hold the same value.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { connect } from 'node:tls';
import { parseConfig } from '../../../src/core/config/load.ts';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { createLoggerOn } from '../../../src/observe/log/logger.ts';
import { eventLogger } from '../../../src/server/cluster/primary-log.ts';
import { startGateway } from '../../../src/server/gateway/gateway.ts';
import { makeClientCa } from '../../helpers/client-ca.ts';
import { withOwnStateHome } from '../../helpers/test-gateway.ts';

/** What JSON.stringify leaves raw that a terminal obeys or turns around, or a reader ends a line at. */
const RAW = /[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const HOSTILE = 'a\x9b2J\x85b\x7f\u202e\u2028c';

test('an event line writes C1, DEL, bidi overrides and U+2028 in a value as \\u escapes, the value unchanged: pino and the primary alike', () => {
  const pinoLines: string[] = [];
  const primaryLines: string[] = [];
  createLoggerOn({ write: (line: string) => pinoLines.push(line) }, 'info', 'edge-1').warn(
    { host: HOSTILE },
    'admin misdirected',
  );
  eventLogger({ write: (line) => primaryLines.push(line), flush: () => {} }, 'info', 'edge-1').warn(
    { host: HOSTILE },
    'admin misdirected',
  );
  for (const [who, lines] of [
    ['pino', pinoLines],
    ['primary', primaryLines],
  ] as const) {
    assert.equal(lines.length, 1, who);
    assert.doesNotMatch(lines[0], RAW, who);
    assert.equal(JSON.parse(lines[0]).host, HOSTILE, who);
  }
  // Still byte for byte the same line, after the time (primary-log.test.ts holds the rest).
  assert.equal(pinoLines[0].replace(/"time":"[^"]*"/, ''), primaryLines[0].replace(/"time":"[^"]*"/, ''));
});

test('an event line holding half a surrogate pair writes U+FFFD, never the escape strict JSON readers refuse', () => {
  // pino writes a string past 100 characters with JSON.stringify, which escapes a lone half.
  const lines: string[] = [];
  const logger = createLoggerOn({ write: (line: string) => lines.push(line) }, 'info', 'edge-1');
  logger.warn({ said: `${'x'.repeat(120)}\ud83d`, short: 'y\udc00' }, 'oidc provider said');
  assert.equal(lines.length, 1);
  assert.doesNotMatch(lines[0], /\\ud[89a-f]/);
  const line = JSON.parse(lines[0]);
  assert.equal(line.said, `${'x'.repeat(120)}\ufffd`);
  // A short one pino writes raw: the line's UTF-8 has U+FFFD for it.
  assert.equal(Buffer.from(lines[0]).toString('utf8').includes('y\ufffd'), true);
});

test("a TLS client's SNI name holding the byte 0x9b: the handshake's line escapes it", async () => {
  const certs = await testCertificates();
  const clients = makeClientCa();
  const { parsed: config } = withOwnStateHome(() =>
    parseConfig(
      `listen:
  - address: 127.0.0.1:0
    tls: { cert: ${certs.localhost.certPath}, key: ${certs.localhost.keyPath}, client_certificates: { ca: ${clients.ca}, mode: require } }
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:9
`,
      '<test>',
      {},
    ),
  );
  const written: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      written.push(Buffer.from(chunk));
      done();
    },
  });
  const gw = await startGateway(config, { logger: createLoggerOn(sink, 'info', 'edge-1') });
  const text = () => new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(written));
  try {
    // Node's client sends the name's UTF-8: U+009B is the bytes 0xc2 0x9b, each a character to
    // the gateway's reading of the name.
    await new Promise<void>((resolve) => {
      const socket = connect({
        host: '127.0.0.1',
        port: gw.listeners[0].port(),
        servername: 'x\u009b2J.example',
        ca: certs.ca,
        rejectUnauthorized: false,
      });
      socket.on('error', () => {});
      socket.on('secureConnect', () => socket.resume());
      socket.on('close', () => resolve());
    });
    for (let i = 0; i < 100 && !text().includes('TLS handshake failed'); i++)
      await new Promise((resolve) => setTimeout(resolve, 50));
  } finally {
    await gw.close();
    clients.remove();
  }
  const line = text()
    .split('\n')
    .find((l) => l.includes('TLS handshake failed'));
  assert.ok(line !== undefined, text());
  assert.doesNotMatch(line, RAW);
  assert.equal(JSON.parse(line).sni, 'x\u00c2\u009b2J.example');
});
