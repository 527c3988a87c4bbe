/**
 * Telling h2c from HTTP/1.1 on a plain port (src/proxy/accept/h2/h2-preface.ts): the verdict at
 * the first byte that differs from the preface, and the preface arriving a byte at a time on a
 * real socket, put back whole for the HTTP/2 server.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import tls from 'node:tls';
import { H2_PREFACE, prefaceVerdict } from '../../../../src/proxy/accept/h2/h2-preface.ts';
import { startH2Fixture } from './h2-fixture.ts';
import { ERROR, FRAME, settings } from './h2-frames.ts';

test('the verdict: h2 on the whole preface, HTTP/1.1 at the first byte that differs, none while a prefix matches', () => {
  assert.equal(prefaceVerdict(H2_PREFACE), 'h2');
  assert.equal(prefaceVerdict(Buffer.concat([H2_PREFACE, Buffer.from([0, 0, 0, 4])])), 'h2');
  assert.equal(prefaceVerdict(Buffer.from('PRI * HTTP/2')), undefined);
  assert.equal(prefaceVerdict(Buffer.from('P')), undefined);
  assert.equal(prefaceVerdict(Buffer.from('G')), 'http1');
  assert.equal(prefaceVerdict(Buffer.from('PRI * HTTP/1.1\r\n')), 'http1');
  assert.equal(prefaceVerdict(Buffer.from('POST / HTTP/1.1\r\n')), 'http1');
});

test('a preface sent a byte at a time reaches the HTTP/2 server whole: it answers with its SETTINGS', async () => {
  const fx = await startH2Fixture();
  const socket = net.connect(fx.port, '127.0.0.1');
  try {
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const bytes = Buffer.concat([H2_PREFACE, settings()]);
    for (const byte of bytes) {
      socket.write(Buffer.from([byte]));
      await new Promise((resolve) => setImmediate(resolve));
    }
    const first = await new Promise<Buffer>((resolve) => socket.once('data', resolve));
    assert.equal(first[3], FRAME.SETTINGS);
  } finally {
    socket.destroy();
    await fx.close();
  }
});

test('HTTP/1.1 a byte at a time: the bytes read to decide are put back for the HTTP/1.1 server', async () => {
  const fx = await startH2Fixture();
  const socket = net.connect(fx.port, '127.0.0.1');
  try {
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    let answer = '';
    socket.on('data', (c: Buffer) => {
      answer += c.toString('latin1');
    });
    const ended = new Promise((resolve) => socket.once('end', resolve));
    // "P" matches the preface: two reads before the request line parts from it, both put back.
    for (const byte of Buffer.from(
      'PATCH /p HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
    )) {
      socket.write(Buffer.from([byte]));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await ended;
    assert.match(answer, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(answer, /"method":"PATCH","target":"\/p"/);
  } finally {
    socket.destroy();
    await fx.close();
  }
});

test('TLS with h2 chosen by ALPN, then an HTTP/1.1 request where the preface belongs: GOAWAY PROTOCOL_ERROR (RFC 9113 §3.4), not INTERNAL_ERROR', async () => {
  const fx = await startH2Fixture({ tls: true });
  const socket = tls.connect({
    port: fx.port,
    host: '127.0.0.1',
    servername: 'localhost',
    ca: fx.ca,
    ALPNProtocols: ['h2'],
  });
  try {
    await new Promise<void>((resolve) => socket.once('secureConnect', () => resolve()));
    assert.equal(socket.alpnProtocol, 'h2');
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await new Promise((resolve) => socket.once('close', resolve));
    const bytes = Buffer.concat(received);
    // The frames sent: the server's SETTINGS, then its GOAWAY.
    const frames: { type: number; payload: Buffer }[] = [];
    for (let at = 0; at + 9 <= bytes.length; at += 9 + bytes.readUIntBE(at, 3))
      frames.push({ type: bytes[at + 3], payload: bytes.subarray(at + 9, at + 9 + bytes.readUIntBE(at, 3)) });
    const goaway = frames.find((f) => f.type === FRAME.GOAWAY);
    assert.ok(goaway, 'a GOAWAY came');
    assert.equal(goaway.payload.readUInt32BE(4), ERROR.PROTOCOL_ERROR);
    assert.equal(fx.exchanges.length, 0);
  } finally {
    socket.destroy();
    await fx.close();
  }
});
