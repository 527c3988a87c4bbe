/**
 * routes[].static streams with bounded memory: clients that ask for a 64 MiB file and read none
 * of it hold a read's worth each in the gateway (the file waits on disk), not the file.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { settledArrayBuffers } from '../../helpers/settled-memory.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const root = tempDir('candor-static-mem-');
after(() => rmSync(root, { recursive: true, force: true }));

test('four clients that read nothing of a 64 MiB file hold a few MiB in the gateway, not 256', async () => {
  const SIZE = 64 * 1024 * 1024;
  writeFileSync(join(root, 'big.bin'), Buffer.alloc(SIZE, 3));
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    static: { root: ${root} }
`);
  const sockets: net.Socket[] = [];
  try {
    const before = await settledArrayBuffers();
    let got = 0;
    for (let i = 0; i < 4; i++) {
      const socket = net.connect(gw.port, '127.0.0.1');
      socket.on('error', () => {});
      // The first bytes tell the transfer began; then the client reads no more.
      socket.once('data', (chunk: Buffer) => {
        got += chunk.length;
        socket.pause();
      });
      socket.write('GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n');
      sockets.push(socket);
    }
    await new Promise((r) => setTimeout(r, 500));
    const held = (await settledArrayBuffers()) - before;
    assert.ok(got > 0, 'the transfers began');
    assert.ok(held < 16 * 1024 * 1024, `the gateway holds ${(held / 1048576).toFixed(1)} MiB`);
  } finally {
    for (const socket of sockets) socket.destroy();
    await gw.close();
  }
});
