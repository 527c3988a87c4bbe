/**
 * Telling h2c from HTTP/1.1 on a plain port (src/proxy/accept/h2/h2-preface.ts): the verdict at
 * the first byte that differs from the preface, and the preface arriving a byte at a time on a
 * real socket, put back whole for the HTTP/2 server.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { H2_PREFACE, prefaceVerdict } from '../../../../src/proxy/accept/h2/h2-preface.ts';
import { startH2Fixture } from './h2-fixture.ts';
import { FRAME, settings } from './h2-frames.ts';

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
