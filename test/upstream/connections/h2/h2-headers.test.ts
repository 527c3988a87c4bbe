/**
 * A request's fields as an HTTP/2 upstream gets them: each one as the client sent it, whatever
 * its name. Fields named like an Object's properties (`__proto__`, `constructor`, `length`) are
 * fields like any other: gathered in a plain object, they read as the property already there
 * and went upstream with a value the gateway made up ("function Object() { [native code] }").
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { h2Answer, startH2 } from '../../../../src/kits/fault-kit/h2-faults.ts';
import { rawUntil } from '../../../helpers/http-client.ts';
import { singleUpstream, startTestGateway } from '../../../helpers/test-gateway.ts';

test('fields named like Object properties reach an HTTP/2 upstream as sent, and nothing else does', async (t) => {
  const upstream = await startH2(h2Answer);
  const gw = await startTestGateway(singleUpstream(upstream.url, { upstream: '    protocol: h2c\n' }));
  t.after(async () => {
    await gw.close();
    await upstream.close();
  });
  const text = await rawUntil(
    gw.port,
    'GET / HTTP/1.1\r\nHost: a\r\n__proto__: p\r\nconstructor: c\r\nlength: 3\r\ntoString: s\r\nConnection: close\r\n\r\n',
    () => false,
  );
  assert.match(text, /^HTTP\/1\.1 200 /);
  const [seen] = upstream.received;
  const odd = seen.rawHeaders.filter(([name]) =>
    ['__proto__', 'constructor', 'length', 'tostring'].includes(name),
  );
  assert.deepEqual(odd, [
    ['__proto__', 'p'],
    ['constructor', 'c'],
    ['length', '3'],
    ['tostring', 's'],
  ]);
});
