/** The admin listener's own names, by how it listens: loopback, one address, every address. */
import assert from 'node:assert/strict';
import { syncBuiltinESMExports } from 'node:module';
import os, { hostname, networkInterfaces } from 'node:os';
import { test } from 'node:test';
import { createHostCheck } from '../../../src/server/gateway/host-check.ts';

test('loopback: localhost and the loopback addresses, with or without a port; no other name', () => {
  const check = createHostCheck('127.0.0.1', []);
  for (const host of ['127.0.0.1', '127.0.0.1:9901', 'localhost:9901', 'LocalHost', '[::1]:9901', undefined])
    assert.equal(check.allows(host), true, String(host));
  for (const host of ['evil.example', 'evil.example:9901', '127.0.0.1.evil.example', '10.0.0.5', ''])
    assert.equal(check.allows(host), false, host);
});

test('one address: that address and the host name; allowed_hosts adds names, "*." a suffix', () => {
  const check = createHostCheck('10.1.2.3', ['admin.internal', '*.ops.example.com']);
  for (const host of ['10.1.2.3:9901', hostname(), 'admin.internal', 'gw1.ops.example.com:9901'])
    assert.equal(check.allows(host), true, host);
  for (const host of ['localhost', '127.0.0.1', 'ops.example.com.evil', 'evil.example'])
    assert.equal(check.allows(host), false, host);
});

test("every address (0.0.0.0): each of this machine's addresses, localhost and the host name", () => {
  const check = createHostCheck('0.0.0.0', []);
  const addresses = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((e) => e.address));
  assert.ok(addresses.length > 0);
  for (const address of addresses) {
    const host = address.includes(':') ? `[${address.split('%')[0]}]:9901` : `${address}:9901`;
    assert.equal(check.allows(host), true, host);
  }
  assert.equal(check.allows('localhost'), true);
  assert.equal(check.allows('0.0.0.0:9901'), true, 'the address written, which candor reload connects to');
  assert.equal(createHostCheck('::', []).allows('[::]:9901'), true);
  assert.equal(check.allows('evil.example'), false);
  assert.equal(check.allows('192.0.2.77'), false, 'an address this machine does not have');
});

test('every address, where the interfaces cannot be listed: the names it can confirm, never a throw', () => {
  // A sandbox that refuses netlink sockets (systemd's RestrictAddressFamilies without
  // AF_NETLINK, a seccomp profile) makes os.networkInterfaces() throw, as getifaddrs(3) fails:
  // that throw, in a wildcard metrics listener's request handler, ended the primary at its
  // first scrape. No sandbox can be set up here, so the function is made to fail as it does there.
  const listed = os.networkInterfaces;
  os.networkInterfaces = () => {
    throw new Error('A system error occurred: uv_interface_addresses returned Unknown system error 97');
  };
  syncBuiltinESMExports();
  try {
    const check = createHostCheck('0.0.0.0', ['metrics.internal']);
    assert.equal(check.allows('localhost:9464'), true);
    assert.equal(check.allows('127.0.0.1:9464'), true, 'loopback is this machine whatever the list says');
    assert.equal(check.allows('[::1]:9464'), true);
    assert.equal(check.allows(`${hostname()}:9464`), true);
    assert.equal(check.allows('metrics.internal'), true);
    assert.equal(check.allows('0.0.0.0:9464'), true);
    assert.equal(check.allows('10.1.2.3:9464'), false, 'an address it cannot confirm is refused');
    assert.equal(check.allows('evil.example'), false);
  } finally {
    os.networkInterfaces = listed;
    syncBuiltinESMExports();
  }
});
