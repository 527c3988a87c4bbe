/**
 * What an HTTP/2 client gets of an upstream's interim answers and trailers: each field as the
 * upstream sent it, whatever its name. Fields named like an Object's properties (`__proto__`,
 * `constructor`) gathered in a plain object read as the property already there: the client got
 * `constructor: function Array() { [native code] }, u` and lost `__proto__`.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { test } from 'node:test';
import { startRawFault } from '../../../../src/kits/fault-kit/raw-server.ts';
import { singleUpstream, startTestGateway } from '../../../helpers/test-gateway.ts';

test('trailers and interim fields named like Object properties reach an HTTP/2 client as the upstream sent them', async (t) => {
  const upstream = await startRawFault(async (c) => {
    await c.nextRequest();
    await c.write(
      'HTTP/1.1 103 Early Hints\r\nconstructor: hint\r\nlink: </a.css>; rel=preload\r\n\r\n' +
        'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n__proto__: t\r\nconstructor: u\r\n\r\n',
    );
  });
  const gw = await startTestGateway(singleUpstream(upstream.url), {}, 'http2: true');
  t.after(async () => {
    await gw.close();
    await upstream.close();
  });
  const seen = await new Promise<{
    interim: http2.IncomingHttpHeaders[];
    trailers: http2.IncomingHttpHeaders;
  }>((resolve, reject) => {
    const session = http2.connect(gw.url);
    session.on('error', reject);
    const stream = session.request({ ':path': '/', te: 'trailers' });
    const interim: http2.IncomingHttpHeaders[] = [];
    let trailers: http2.IncomingHttpHeaders = {};
    stream.on('headers', (h) => interim.push(h));
    stream.on('trailers', (h) => {
      trailers = h;
    });
    stream.resume();
    stream.on('error', reject);
    stream.on('close', () => {
      session.close();
      resolve({ interim, trailers });
    });
  });
  assert.equal(seen.interim.length, 1);
  assert.equal(seen.interim[0].constructor, 'hint');
  assert.equal(Object.getOwnPropertyDescriptor(seen.trailers, '__proto__')?.value, 't');
  assert.equal(Object.getOwnPropertyDescriptor(seen.trailers, 'constructor')?.value, 'u');
});
