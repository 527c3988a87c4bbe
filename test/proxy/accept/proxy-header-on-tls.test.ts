/**
 * A PROXY protocol header sent to a TLS listener without `proxy_protocol` (a TCP balancer set to
 * send one, the listener not set to take it): its handshake fails as any bytes that are no TLS
 * do (OpenSSL's "wrong version number"), and the line that tells it says what such bytes may be,
 * the PROXY header among them, and the setting that reads it, as a plain listener's 400 names it
 * (proxy-protocol.test.ts). OpenSSL's words alone sent an operator looking at TLS versions.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { v2Header } from '../../helpers/proxy-header.ts';
import { type LogLine, singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const keep = closeAfterAll();

const cases: [string, Buffer][] = [
  ['v1', Buffer.from('PROXY TCP4 203.0.113.7 10.0.0.1 56324 443\r\n')],
  ['v2', v2Header(1, 0x11, Buffer.from([203, 0, 113, 7, 10, 0, 0, 1, 0xdc, 0x04, 0x01, 0xbb]))],
];

for (const [name, header] of cases) {
  test(`a PROXY ${name} header before a ClientHello: the failed handshake's line names the PROXY header and proxy_protocol`, async () => {
    const origin = await keep(startEcho());
    const certs = await testCertificates();
    // A listener of its own: a reason's line is told at most once a second.
    const gw = await keep(
      startTestGateway(
        singleUpstream(origin.url),
        {},
        `tls: { cert: ${certs.localhost.certPath}, key: ${certs.localhost.keyPath} }`,
      ),
    );
    const answer = await new Promise<string>((resolve) => {
      const socket: Socket = connect(gw.port, '127.0.0.1');
      let got = '';
      socket.on('data', (chunk: Buffer) => {
        got += chunk.toString('latin1');
      });
      socket.on('error', () => {});
      socket.on('close', () => resolve(got));
      // The header and the start of a ClientHello, as a balancer's first write.
      socket.write(Buffer.concat([header, Buffer.from([0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00])]));
    });
    assert.equal(answer, '');
    let line: LogLine | undefined;
    await waitUntil('the failed handshake told', () => {
      line = gw.logs.find((l) => l.msg === 'TLS handshake failed');
      return line !== undefined;
    });
    assert.equal(line?.reason, 'protocol');
    assert.equal(line?.client, '127.0.0.1');
    assert.equal(
      line?.details,
      "wrong version number: the connection's first bytes are no TLS record: another protocol, or a load balancer's PROXY protocol header, which only a listener with listen[].proxy_protocol reads",
    );
    assert.equal(origin.received.length, 0);
  });
}
