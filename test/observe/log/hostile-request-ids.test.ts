/**
 * A client's X-Request-Id as hostile clients send it: what the log line says (`req_id`,
 * `client_req_id`), what goes upstream and what the client gets back. An id is adopted only from
 * a trusted proxy, and only when it is one safe value. X-Request-Id is one value, so two lines of
 * it name no request (nginx 1.22 reads the first, HAProxy's `req.hdr` the last): a new id, for a
 * request the parser refused as for one it routed.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { test } from 'node:test';
import { rawRequest } from '../../helpers/http-client.ts';
import { scriptedUpstream } from '../../helpers/scripted-upstream.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

interface Told {
  readonly status: number;
  /** The X-Request-Id the client got back. */
  readonly back: string | undefined;
  /** The one the upstream got (undefined: nothing went upstream). */
  readonly upstream: string | undefined;
  readonly reqId: unknown;
  readonly clientReqId: unknown;
}

/** Each request head sent on a connection of its own, to a gateway that trusts the client or not. */
async function told(trusted: boolean, heads: readonly string[]): Promise<Told[]> {
  const origin = await scriptedUpstream((socket) =>
    socket.end('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'),
  );
  const gw = await startTestGateway(
    singleUpstream(origin.url, { extra: trusted ? 'trust_forwarded_from: [127.0.0.1]' : '' }),
  );
  const out: Told[] = [];
  try {
    for (const [i, head] of heads.entries()) {
      const asked = origin.requests.length;
      const { raw, status } = await rawRequest(gw.port, `${head}\r\nconnection: close\r\n\r\n`);
      const line = await gw.accessLine(i + 1);
      const upstreamHead = origin.requests[asked]?.head;
      out.push({
        status,
        back: /\r\nx-request-id: ([^\r]*)/i.exec(raw)?.[1],
        upstream:
          upstreamHead === undefined ? undefined : /\r\nx-request-id: ([^\r]*)/i.exec(upstreamHead)?.[1],
        reqId: line.req_id,
        clientReqId: line.client_req_id,
      });
    }
    return out;
  } finally {
    await gw.close();
    await origin.close();
  }
}

const TWICE = 'x-request-id: first-1\r\nx-request-id: second-2';
/** A field name with a space: the parser refuses the head (400), after reading the ids. */
const REFUSED = 'bad name: x';

test('from a trusted proxy: one safe id is the request id; two lines, a list, 1 KiB or an empty one are not, routed or refused', async () => {
  const [one, twice, twiceRefused, comma, long, empty] = await told(true, [
    'GET / HTTP/1.1\r\nhost: a\r\nx-request-id: edge-42',
    `GET / HTTP/1.1\r\nhost: a\r\n${TWICE}`,
    `GET / HTTP/1.1\r\nhost: a\r\n${TWICE}\r\n${REFUSED}`,
    'GET / HTTP/1.1\r\nhost: a\r\nx-request-id: a,b',
    `GET / HTTP/1.1\r\nhost: a\r\nx-request-id: ${'r'.repeat(1024)}`,
    'GET / HTTP/1.1\r\nhost: a\r\nx-request-id: ',
  ]);
  assert.deepEqual(one, {
    status: 200,
    back: 'edge-42',
    upstream: 'edge-42',
    reqId: 'edge-42',
    clientReqId: undefined,
  });
  for (const [name, t] of Object.entries({ twice, twiceRefused, comma, long, empty })) {
    assert.match(String(t.reqId), UUID, name);
    assert.equal(t.back, t.reqId, name);
    assert.equal(t.clientReqId, undefined, name);
    assert.equal(t.upstream, name === 'twiceRefused' ? undefined : t.reqId, name);
  }
  assert.equal(twiceRefused.status, 400);
});

test('from an untrusted client: a safe id is logged beside a new one, never sent on; two lines are logged as neither, routed or refused', async () => {
  const [one, twice, twiceRefused] = await told(false, [
    'GET / HTTP/1.1\r\nhost: a\r\nx-request-id: edge-42',
    `GET / HTTP/1.1\r\nhost: a\r\n${TWICE}`,
    `GET / HTTP/1.1\r\nhost: a\r\n${TWICE}\r\n${REFUSED}`,
  ]);
  assert.match(String(one.reqId), UUID);
  assert.deepEqual(one, {
    status: 200,
    back: one.reqId,
    upstream: one.reqId,
    reqId: one.reqId,
    clientReqId: 'edge-42',
  });
  for (const [name, t] of Object.entries({ twice, twiceRefused })) {
    assert.match(String(t.reqId), UUID, name);
    assert.equal(t.back, t.reqId, name);
    assert.equal(t.clientReqId, undefined, name);
  }
});

test('over HTTP/2, two x-request-id fields from a trusted proxy are no id either: a new one, sent on and back', async () => {
  const origin = await scriptedUpstream((socket) =>
    socket.end('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'),
  );
  const gw = await startTestGateway(
    singleUpstream(origin.url, { extra: 'trust_forwarded_from: [127.0.0.1]' }),
    {},
    'http2: true',
  );
  const session = http2.connect(gw.url);
  try {
    for (const [ids, adopted] of [
      [['first-1', 'second-2'], false],
      [['edge-42'], true],
    ] as const) {
      const stream = session.request({ ':path': '/', 'x-request-id': [...ids] });
      stream.end();
      const head = await new Promise<http2.IncomingHttpHeaders>((resolve) => stream.on('response', resolve));
      stream.resume();
      await new Promise((resolve) => stream.on('close', resolve));
      const line = await gw.logFor(String(head['x-request-id']));
      const upstreamHead = origin.requests.at(-1)?.head ?? '';
      if (adopted) assert.equal(line.req_id, 'edge-42');
      else assert.match(String(line.req_id), UUID);
      assert.equal(head['x-request-id'], line.req_id);
      assert.equal(/\r\nx-request-id: ([^\r]*)/i.exec(upstreamHead)?.[1], line.req_id);
      assert.equal(line.client_req_id, undefined);
    }
  } finally {
    session.close();
    await gw.close();
    await origin.close();
  }
});

test('a head refused at limits.header_size: an id cut by the limit is no id, from a trusted proxy or not; one whole before it is', async () => {
  const origin = await scriptedUpstream((socket) =>
    socket.end('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'),
  );
  const limit = 1024;
  /** A head whose x-request-id line holds the limit's last bytes: only `edge-` of its id came. */
  const cutAt = (target: string) => {
    const start = `GET ${target} HTTP/1.1\r\nhost: a\r\nx-pad: `;
    const pad = 'p'.repeat(limit - start.length - '\r\nx-request-id: edge-'.length);
    return `${start}${pad}\r\nx-request-id: edge-42-whole-id\r\nx-more: ${'m'.repeat(200)}\r\n\r\n`;
  };
  const whole = `GET / HTTP/1.1\r\nhost: a\r\nx-request-id: edge-42\r\nx-pad: ${'p'.repeat(2 * limit)}\r\n\r\n`;
  for (const trusted of [true, false]) {
    const gw = await startTestGateway(
      singleUpstream(origin.url, {
        extra: `limits: { header_size: 1KiB, uri_length: 512 }\n${trusted ? 'trust_forwarded_from: [127.0.0.1]' : ''}`,
      }),
    );
    try {
      const heads = [cutAt('/'), cutAt(`/${'t'.repeat(600)}`), whole];
      for (const [i, head] of heads.entries()) {
        const { raw, status } = await rawRequest(gw.port, head);
        const line = await gw.accessLine(i + 1);
        const back = /\r\nx-request-id: ([^\r]*)/i.exec(raw)?.[1];
        const name = `${trusted ? 'trusted' : 'untrusted'} #${i + 1}`;
        assert.equal(status, i === 1 ? 414 : 431, name);
        assert.equal(back, line.req_id, name);
        if (i === 2) {
          assert.equal(line[trusted ? 'req_id' : 'client_req_id'], 'edge-42', name);
          continue;
        }
        // The id's line was cut by the limit: `edge-` is not what the client sent.
        assert.match(String(line.req_id), UUID, name);
        assert.equal(line.client_req_id, undefined, name);
      }
    } finally {
      await gw.close();
    }
  }
  await origin.close();
});
