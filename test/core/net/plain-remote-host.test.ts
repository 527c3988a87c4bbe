/** Which URLs send what they carry over plain http to another machine (the JWKS and etcd credential warnings). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { plainRemoteHost } from '../../../src/core/net/plain-remote-host.ts';

test('plain http to another machine names its host; https, loopback (IPv4, IPv6, mapped, localhost) and no URL name none', () => {
  assert.equal(plainRemoteHost('http://10.0.0.5:2379'), '10.0.0.5');
  assert.equal(plainRemoteHost('http://etcd.internal:2379/'), 'etcd.internal');
  assert.equal(plainRemoteHost('http://[::ffff:10.0.0.1]/'), '[::ffff:a00:1]');
  for (const spared of [
    'https://10.0.0.5:2379',
    'http://127.0.0.1:2379',
    'http://127.8.9.10/',
    'http://localhost:2379',
    'http://[::1]:2379',
    'http://[::ffff:127.0.0.1]:2379',
    'not a url',
    undefined,
  ])
    assert.equal(plainRemoteHost(spared), undefined, String(spared));
});
