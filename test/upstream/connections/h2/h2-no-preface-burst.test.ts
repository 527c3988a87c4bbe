/**
 * A burst to an h2c upstream that accepts TCP and never speaks HTTP/2 (an HTTP/1.1 server
 * waiting for a request line, a proxy with no route). A new connection carries one stream until
 * the upstream's SETTINGS come (h2-settings-first.test.ts), and the others of the burst wait on
 * it: once it is given up, they fail with it, each with the 504 that names the missing preface,
 * instead of each waiting for a connection of its own to be tried and given up in turn (about
 * two response timeouts each, so the later ones of a burst met the total timeout instead).
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { test } from 'node:test';
import { startSshBanner } from '../../../../src/kits/fault-kit/garbage-faults.ts';
import { startBlackhole } from '../../../../src/kits/fault-kit/slow-faults.ts';
import { closeAfterAll } from '../../../helpers/keep.ts';
import { startTestGateway } from '../../../helpers/test-gateway.ts';

const keep = closeAfterAll();

interface Answer {
  status: number;
  proxyStatus: string | undefined;
}

/** `count` GETs on one HTTP/2 session, sent together; their statuses and Proxy-Status, in order. */
async function burst(url: string, count: number): Promise<Answer[]> {
  const session = http2.connect(url);
  session.on('error', () => {});
  try {
    await new Promise((resolve) => session.once('remoteSettings', resolve));
    return await Promise.all(
      Array.from(
        { length: count },
        (_, i) =>
          new Promise<Answer>((resolve) => {
            const stream = session.request({ ':path': `/${i}`, 'x-request-id': `mute-${i}` });
            const answer: Answer = { status: 0, proxyStatus: undefined };
            const timer = setTimeout(() => stream.destroy(), 10_000);
            stream.on('response', (headers) => {
              answer.status = Number(headers[':status']);
              answer.proxyStatus = headers['proxy-status'] as string | undefined;
            });
            stream.on('error', () => {});
            stream.resume();
            stream.on('close', () => {
              clearTimeout(timer);
              resolve(answer);
            });
          }),
      ),
    );
  } finally {
    session.close();
  }
}

test('a burst to an h2c upstream that never sends its SETTINGS: every request a 504 naming the missing preface, on one connection, none behind another’s timeout', async () => {
  const silent = await keep(startBlackhole());
  const gw = await keep(
    startTestGateway(
      `name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    protocol: h2c
    targets: [{ url: "${silent.url}" }]
    timeouts: { connect: 500ms, response: 300ms, read: 300ms, total: 1500ms }
    retries: { attempts: 1 }
`,
      {},
      'http2: true',
    ),
  );
  const answers = await burst(gw.url, 5);
  const proxyStatus = (details: string): string =>
    `edge-1; error=http_response_timeout; details="${details}"; next-hop="app"`;
  const sent =
    /^no response head \(response timeout of 300 ms\) after \d+ ms; the upstream never sent its HTTP\/2 preface \(SETTINGS\): no HTTP\/2 server answered on that connection$/;
  const waited =
    /^no response head: the connection this request waited for had no HTTP\/2 preface \(SETTINGS\) from the upstream after \d+ ms, and was given up: no HTTP\/2 server answered on that connection$/;
  const lines = gw.logs.filter((line) => line.msg === 'request');
  assert.equal(lines.length, 5);
  // The one request the connection carried fails on its response timeout; the four that waited
  // on it fail with it, none after a connection of its own (nor on the total timeout).
  assert.deepEqual(
    lines.map((line) => line.error),
    new Array(5).fill('http_response_timeout'),
  );
  assert.equal(lines.filter((line) => sent.test(String(line.details))).length, 1);
  assert.equal(lines.filter((line) => waited.test(String(line.details))).length, 4);
  assert.deepEqual(
    lines.map((line) => line.attempts),
    new Array(5).fill(1),
  );
  for (const answer of answers) {
    const id = lines.find((line) => proxyStatus(String(line.details)) === answer.proxyStatus);
    assert.equal(answer.status, 504);
    assert.ok(id !== undefined, `${answer.proxyStatus} is one of the logged failures`);
  }
  assert.equal(silent.connections, 1, 'the requests waiting on the one connection failed with it');
});

test('a burst to an h2c upstream that answers HTTP/2 with garbage before any SETTINGS: the requests that waited fail with the connection, one connection in all', async () => {
  const banner = await keep(startSshBanner());
  const gw = await keep(
    startTestGateway(
      `name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    protocol: h2c
    targets: [{ url: "${banner.url}" }]
    timeouts: { connect: 500ms, response: 300ms, read: 300ms, total: 1500ms }
    retries: { attempts: 1 }
`,
      {},
      'http2: true',
    ),
  );
  const answers = await burst(gw.url, 5);
  assert.deepEqual(
    answers.map((answer) => answer.status),
    new Array(5).fill(502),
  );
  const lines = gw.logs.filter((line) => line.msg === 'request');
  assert.equal(lines.length, 5);
  assert.deepEqual(
    lines.map((line) => line.error),
    new Array(5).fill('http_protocol_error'),
  );
  assert.equal(
    lines.filter((line) =>
      /^the upstream's answer on the connection this request waited for is not valid HTTP\/2 \(.+\) after \d+(\.\d)? ms, and came before any HTTP\/2 preface \(SETTINGS\)$/.test(
        String(line.details),
      ),
    ).length,
    4,
  );
  assert.equal(banner.connections, 1, 'the requests waiting on the one connection failed with it');
});
