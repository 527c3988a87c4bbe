/**
 * A plain client connection's reads are views of one buffer the next read of any socket
 * overwrites (src/core/net/direct-reads.ts): what the server keeps past a read — a body read
 * whole before a connection is taken, requests pipelined behind the one answered — must be its
 * own copy. Each case keeps bytes of one client while other clients' requests are read.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, test } from 'node:test';
import { request } from '../../../helpers/http-client.ts';
import { closeAll } from '../../../helpers/keep.ts';
import { singleUpstream, startTestGateway } from '../../../helpers/test-gateway.ts';
import { waitUntil } from '../../../helpers/wait.ts';

/** What reached the origin: each request's path and body. */
const seen: { path: string; body: string }[] = [];
/** Answers to `/held…` wait until released; every other request is answered at once. */
let held: (() => void)[] = [];
const origin = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    seen.push({ path: req.url ?? '', body: Buffer.concat(chunks).toString('latin1') });
    const answer = () => res.end(`answer to ${req.url}`);
    if (req.url?.startsWith('/held')) held.push(answer);
    else answer();
  });
});
await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
const gw = await startTestGateway(
  singleUpstream(`http://127.0.0.1:${(origin.address() as net.AddressInfo).port}`),
);
after(() => closeAll(gw, origin));

/** Requests of other clients, each on its connection: reads that land in the shared buffer. */
async function otherClients(tag: string): Promise<void> {
  const answers = await Promise.all(
    Array.from({ length: 6 }, (_, i) => request(gw.url, { path: `/other-${tag}-${i}-${'x'.repeat(200)}` })),
  );
  for (const answer of answers) assert.equal(answer.status, 200);
}

function connect(): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(gw.port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

test('a body read whole in two reads, other clients read between them, reaches the upstream as sent', async () => {
  const socket = await connect();
  let received = '';
  socket.on('data', (bytes: Buffer) => {
    received += bytes.toString('latin1');
  });
  const first = 'a'.repeat(3000);
  const second = 'b'.repeat(3000);
  socket.write(
    `POST /upload HTTP/1.1\r\nhost: x\r\ncontent-type: text/plain\r\ncontent-length: ${first.length + second.length}\r\n\r\n${first}`,
  );
  await otherClients('body');
  socket.write(second);
  await waitUntil('the upload was answered', () => received.includes('answer to /upload'));
  socket.destroy();
  const upload = seen.find((request) => request.path === '/upload');
  assert.ok(upload !== undefined, 'the upload reached the origin');
  // (Compared whole, told short: a body of 6,000 letters would fill the report.)
  const whole = upload.body === first + second;
  assert.ok(
    whole,
    `the body as sent: ${upload.body.length} bytes, ${JSON.stringify(upload.body.slice(2990, 3010))} at 2990`,
  );
});

test('a request pipelined behind one being answered, other clients read meanwhile, is read as the client sent it', async () => {
  const socket = await connect();
  let received = '';
  socket.on('data', (bytes: Buffer) => {
    received += bytes.toString('latin1');
  });
  socket.write(
    'GET /held-first HTTP/1.1\r\nhost: x\r\n\r\nGET /pipelined-second?kept=yes HTTP/1.1\r\nhost: x\r\n\r\n',
  );
  await waitUntil('the first request reached the origin', () => held.length === 1);
  await otherClients('pipeline');
  for (const answer of held) answer();
  held = [];
  await waitUntil('both were answered', () => received.includes('answer to /pipelined-second?kept=yes'));
  socket.destroy();
  assert.ok(received.indexOf('answer to /held-first') < received.indexOf('answer to /pipelined-second'));
  assert.ok(seen.some((request) => request.path === '/pipelined-second?kept=yes'));
});
