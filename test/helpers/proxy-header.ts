import net from 'node:net';

const SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

/** A PROXY protocol v2 header: command (0 LOCAL, 1 PROXY), family byte, the body after the 16-byte head. */
export function v2Header(command: number, family: number, body: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head[0] = 0x20 | command;
  head[1] = family;
  head.writeUInt16BE(body.length, 2);
  return Buffer.concat([SIGNATURE, head, body]);
}

/**
 * A TCP load balancer in front of `port`: each connection it accepts opens one to the gateway
 * and sends the PROXY header and the client's first bytes in one write (as HAProxy's
 * `send-proxy` may), then relays both ways. It listens on `listenPort` (any free one by default).
 */
export function balancer(
  port: number,
  header: string,
  listenPort = 0,
): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const gateway = net.connect(port, '127.0.0.1');
    for (const socket of [client, gateway]) {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    }
    client.once('data', (first: Buffer) => {
      gateway.write(Buffer.concat([Buffer.from(header), first]));
      client.pipe(gateway).pipe(client);
    });
    client.on('error', () => gateway.destroy());
    gateway.on('error', () => client.destroy());
  });
  return new Promise((resolve) =>
    server.listen(listenPort, '127.0.0.1', () =>
      resolve({
        port: (server.address() as net.AddressInfo).port,
        close: () => {
          for (const socket of sockets) socket.destroy();
          return new Promise((done) => server.close(() => done()));
        },
      }),
    ),
  );
}
