/**
 * A gateway that trusts 127.0.0.1 as a proxy (`trust_forwarded_from`), in front of an upstream
 * that records every request head, with a route that tells the upstream the client it judged
 * (`X-Client: {client_ip}`): what the forwarding fields' tests send and read.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { closeAfterAll } from '../../helpers/keep.ts';
import { scriptedUpstream } from '../../helpers/scripted-upstream.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

export interface TrustedProxyFixture {
  /** Sends one raw request from 127.0.0.1 (the trusted proxy), `fields` as written; the status line's code. */
  send(id: string, fields: string): Promise<number>;
  /** The values of every field `name` in the upstream's head of the request with this id. */
  upstreamFields(id: string, name: string): string[];
}

/** The fixture, closed after the file's tests. */
export async function trustedProxyFixture(): Promise<TrustedProxyFixture> {
  const keep = closeAfterAll();
  const upstream = await keep(
    scriptedUpstream((socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')),
  );
  const gw = await keep(
    startTestGateway(`name: edge-1
trust_forwarded_from: [127.0.0.1]
routes:
  - match: { path: / }
    upstream: app
    request_headers: { set: { X-Client: "{client_ip}" } }
upstreams:
  app:
    targets:
      - url: ${upstream.url}
`),
  );
  return {
    send: (id, fields) =>
      new Promise((resolve, reject) => {
        const socket = net.connect(gw.port, '127.0.0.1');
        const chunks: Buffer[] = [];
        socket.on('data', (c: Buffer) => chunks.push(c));
        socket.on('end', () => resolve(Number(Buffer.concat(chunks).toString('latin1').slice(9, 12))));
        socket.on('error', reject);
        socket.write(`GET /page HTTP/1.1\r\nHost: app\r\nX-Request-Id: ${id}\r\n${fields}\r\n`);
      }),
    upstreamFields(id, name) {
      const found = upstream.requests.find((r) => r.head.includes(`\r\nx-request-id: ${id}\r\n`));
      assert.ok(found, `no request ${id} upstream`);
      return found.head
        .split('\r\n')
        .slice(1)
        .filter((line) => line.slice(0, line.indexOf(':')).toLowerCase() === name)
        .map((line) => line.slice(line.indexOf(':') + 1).trim());
    },
  };
}
