import assert from 'node:assert/strict';
import { readdirSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import { test } from 'node:test';
import { listeningInodes } from '../../../src/core/net/socket-tables.ts';
import { closeAll } from '../../helpers/keep.ts';

const listen = (host: string) =>
  new Promise<net.Server>((resolve) => {
    const server = net.createServer();
    server.listen(0, host, () => resolve(server));
  });

test('the sockets listening on a port, over IPv4 and IPv6, with their inodes; none once closed, and not a connection to it', async () => {
  const v4 = await listen('127.0.0.1');
  const port = (v4.address() as net.AddressInfo).port;
  const client = net.connect(port, '127.0.0.1');
  await new Promise((resolve) => client.once('connect', resolve));
  try {
    const inodes = listeningInodes(port);
    assert.equal(inodes?.length, 1, 'the listener alone, not the connection or its accepted end');
    // The inode is a socket of this process's: one of its descriptors links to it.
    const links = readdirSync('/proc/self/fd').map((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return '';
      }
    });
    assert.ok(links.includes(`socket:[${inodes?.[0]}]`));
  } finally {
    client.destroy();
    await closeAll(v4);
  }
  assert.deepEqual(listeningInodes(port), []);
  const v6 = await listen('::1');
  try {
    assert.equal(listeningInodes((v6.address() as net.AddressInfo).port)?.length, 1);
  } finally {
    await closeAll(v6);
  }
});
