/**
 * One request at a time per connection (README, "Hostile peers"): a client that pipelines
 * thousands of requests on one connection gets them answered in order, one after the other,
 * never run side by side upstream, so it cannot take the upstream pool from everyone else;
 * and past a small read-ahead the gateway stops reading its socket.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';

const PIPELINED = 5000;

test(`one connection pipelining ${PIPELINED} GETs runs one at a time upstream, and other clients keep getting 200`, async (t) => {
  let running = 0;
  let mostAtOnce = 0;
  let seen = 0;
  const upstream = await listenOnLoopback((req, res) => {
    const attack = req.url?.startsWith('/pipelined') ?? false;
    if (attack) {
      seen++;
      mostAtOnce = Math.max(mostAtOnce, ++running);
    }
    // Answered a turn later: requests run side by side would overlap here.
    setImmediate(() => {
      if (attack) running--;
      res.end('ok');
    });
  });
  t.after(() => upstream.close());
  // The default pool (128 connections): the bound that the attack used to take whole.
  const gw = await startTestGateway(singleUpstream(upstream.url));
  t.after(() => gw.close());

  const attacker = net.connect(gw.port, '127.0.0.1');
  t.after(() => attacker.destroy());
  let answers = 0;
  let received = '';
  const allAnswered = new Promise<void>((resolve, reject) => {
    attacker.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      // Count status lines as they come, keeping only the tail a split line may need.
      const lines = received.split('HTTP/1.1 200 ');
      answers += lines.length - 1;
      received = lines[lines.length - 1];
      if (answers >= PIPELINED) resolve();
    });
    attacker.on('error', reject);
    attacker.on('close', () => reject(new Error(`closed after ${answers} answers`)));
  });
  const one = 'GET /pipelined HTTP/1.1\r\nHost: a\r\n\r\n';
  attacker.write(one.repeat(PIPELINED));

  // Meanwhile, other clients are served.
  const others = await Promise.all(
    Array.from({ length: 5 }, (_, i) => request(gw.url, { path: `/other/${i}` })),
  );
  assert.deepEqual(
    others.map((r) => r.status),
    [200, 200, 200, 200, 200],
  );
  await allAnswered;
  assert.equal(seen, PIPELINED, 'every pipelined request reached the upstream, in turn');
  assert.equal(mostAtOnce, 1, 'never more than one of them at once');
  attacker.destroy();
});

test('a pipelining client that does not read its answers stops being read (backpressure), and others are served', async (t) => {
  let seen = 0;
  const big = Buffer.alloc(64 * 1024, 'x');
  const upstream = await listenOnLoopback((req, res) => {
    if (req.url?.startsWith('/pipelined')) {
      seen++;
      res.end(big);
    } else res.end('ok');
  });
  t.after(() => upstream.close());
  const gw = await startTestGateway(singleUpstream(upstream.url));
  t.after(() => gw.close());

  const attacker = net.connect(gw.port, '127.0.0.1');
  t.after(() => attacker.destroy());
  attacker.on('error', () => {});
  attacker.pause(); // never reads
  await new Promise<void>((resolve) => attacker.once('connect', () => resolve()));
  attacker.write('GET /pipelined HTTP/1.1\r\nHost: a\r\n\r\n'.repeat(PIPELINED));

  // Let the gateway answer as much as the sockets between them hold.
  let last = -1;
  while (seen !== last) {
    last = seen;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  // What the client did not read fills the socket buffers (a few MiB on loopback, 64 KiB a
  // response): the gateway stops there, one request at a time, instead of running them all.
  assert.ok(
    seen < PIPELINED / 5,
    `the gateway stopped forwarding when the client stopped reading (saw ${seen})`,
  );
  const other = await request(gw.url, { path: '/other' });
  assert.equal(other.status, 200);
  attacker.destroy();
});

test('pipelined requests of every kind, in reads cut anywhere, are answered in order, each its own answer', async (t) => {
  // Answered by the upstream (a turn or a few ms later), by the gateway itself at once (OPTIONS *,
  // a 404, a redirect), with bodies of a length and chunked: a read after one the gateway
  // answered at once was parsed before the rest of that one's read (10 rounds of 12 broke).
  const upstream = await listenOnLoopback((req, res) => {
    let length = 0;
    req.on('data', (chunk: Buffer) => {
      length += chunk.length;
    });
    req.on('end', () => setTimeout(() => res.end(`u:${req.url}:${length};`), Number(req.url?.slice(3)) % 5));
  });
  t.after(() => upstream.close());
  const gw = await startTestGateway(
    singleUpstream(upstream.url, { route: '/u' }).replace(
      'routes:\n',
      'routes:\n  - match: { path: /moved }\n    redirect: { location: "https://example.com/", status: 301 }\n',
    ),
  );
  t.after(() => gw.close());
  // Each kind: the request, and what its answer must hold.
  const kinds: ((i: number) => [string, RegExp])[] = [
    (i) => [`GET /u/${i} HTTP/1.1\r\nHost: a\r\n\r\n`, new RegExp(`^HTTP/1\\.1 200 .*u:/u/${i}:0;$`, 's')],
    (i) => [`OPTIONS * HTTP/1.1\r\nHost: a\r\nX-N: ${i}\r\n\r\n`, /^HTTP\/1\.1 200 .*\r\nallow: /s],
    (i) => [
      `GET /none/${i} HTTP/1.1\r\nHost: a\r\n\r\n`,
      new RegExp(`^HTTP/1\\.1 404 .*no route for a/none/${i}\\b`, 's'),
    ],
    () => ['GET /moved HTTP/1.1\r\nHost: a\r\n\r\n', /^HTTP\/1\.1 301 /],
    (i) => [
      `POST /u/${i} HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello`,
      new RegExp(`^HTTP/1\\.1 200 .*u:/u/${i}:5;$`, 's'),
    ],
    (i) => [
      `POST /u/${i} HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
      new RegExp(`^HTTP/1\\.1 200 .*u:/u/${i}:3;$`, 's'),
    ],
  ];
  let seed = 7;
  const random = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const perRound = 12;
  for (let round = 0; round < 12; round++) {
    const expected: RegExp[] = [];
    let bytes = '';
    for (let i = 0; i < perRound; i++) {
      const [request, answer] = kinds[Math.floor(random() * kinds.length)](i);
      bytes += request;
      expected.push(answer);
    }
    const client = net.connect(gw.port, '127.0.0.1');
    let received = '';
    const answers = () => received.split(/(?=HTTP\/1\.1 [2-5]\d\d )/).filter((a) => a !== '');
    const done = new Promise<void>((resolve, reject) => {
      client.on('data', (chunk: Buffer) => {
        received += chunk.toString('latin1');
        const got = answers();
        if (got.length === perRound && expected[perRound - 1].test(got[perRound - 1])) resolve();
      });
      client.on('error', reject);
      client.on('close', () =>
        reject(new Error(`closed; received ${JSON.stringify(received.slice(0, 2000))}`)),
      );
    });
    done.catch(() => {});
    // Reads cut at random places, some a few ms apart so that they stay apart.
    for (let at = 0; at < bytes.length; ) {
      const length = 1 + Math.floor(random() * 120);
      client.write(bytes.slice(at, at + length));
      at += length;
      if (random() < 0.5) await new Promise((resolve) => setTimeout(resolve, random() * 15));
    }
    await done;
    const got = answers();
    for (let i = 0; i < perRound; i++) assert.match(got[i], expected[i], `round ${round}, answer ${i}`);
    client.destroy();
  }
});

test('a request sent while pipelined ones wait for a slow reader is answered after them: the client never takes one answer for another', async (t) => {
  // /a was read ahead behind /big and waited for the client to take /big's answer; /b, sent then,
  // was parsed at once and answered first, so the client read /b's answer as /a's.
  const big = Buffer.alloc(8 * 1024 * 1024, 'x');
  const upstream = await listenOnLoopback((req, res) => res.end(req.url === '/big' ? big : `u:${req.url};`));
  t.after(() => upstream.close());
  // A buffer the whole answer fits in: it is written at once, and waits in the socket for the client.
  const gw = await startTestGateway(
    singleUpstream(upstream.url).replace(
      '    upstream: app\n',
      '    upstream: app\n    limits: { buffer: 16MiB }\n',
    ),
  );
  t.after(() => gw.close());
  const client = net.connect(gw.port, '127.0.0.1');
  t.after(() => client.destroy());
  await new Promise((resolve) => client.once('connect', resolve));
  client.pause();
  client.write('GET /big HTTP/1.1\r\nHost: a\r\n\r\nGET /a HTTP/1.1\r\nHost: a\r\n\r\n');
  await new Promise((resolve) => setTimeout(resolve, 500));
  client.write('GET /b HTTP/1.1\r\nHost: a\r\n\r\n');
  await new Promise((resolve) => setTimeout(resolve, 300));
  let received = '';
  client.on('data', (chunk: Buffer) => {
    received += chunk.toString('latin1');
  });
  client.resume();
  while ((received.match(/u:\/\w+;/g) ?? []).length < 2) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(received.match(/u:\/\w+;/g), ['u:/a;', 'u:/b;']);
});
