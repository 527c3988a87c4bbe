/** HTTPS upstreams: the certificate is checked against the target's name, never the client's Host. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startHttpsEcho } from '../../../src/kits/fault-kit/tls-faults.ts';
import { request } from '../../helpers/http-client.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';

test('a client Host that names another site does not change the SNI or the certificate check', async () => {
  const fault = await startHttpsEcho();
  const gw = await startTestGateway(
    singleUpstream(`https://localhost:${fault.port}`, { upstream: `    tls: { ca: ${fault.caPath} }\n` }),
  );
  try {
    const res = await request(gw.url, { path: '/tls', headers: { host: 'evil.example' } });
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.text).headers.host, 'evil.example', 'the Host itself is still preserved');
  } finally {
    await gw.close();
    await fault.close();
  }
});

test('tls.servername sets the name checked, whatever the target address', async () => {
  const fault = await startHttpsEcho();
  const gw = await startTestGateway(
    singleUpstream(`https://127.0.0.1:${fault.port}`, {
      upstream: `    tls: { ca: ${fault.caPath}, servername: localhost }\n`,
    }),
  );
  try {
    const res = await request(gw.url, { path: '/tls', headers: { host: 'evil.example' } });
    assert.equal(res.status, 200);
  } finally {
    await gw.close();
    await fault.close();
  }
});
