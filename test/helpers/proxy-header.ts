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

/**
 * CRC-32C bit by bit, from its definition (RFC 3720 §B.4: reflected polynomial 0x82F63B78,
 * initial value and final XOR all ones): what a balancer writes, made apart from the gateway's
 * table-driven one.
 */
export function crc32cBitwise(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * A v2 PROXY header whose body is `addresses` then a PP2_TYPE_CRC32C TLV (0x03, 4 bytes) holding
 * the checksum of the whole header with that field zeroed, big-endian, as HAProxy writes it.
 */
export function v2HeaderWithCrc32c(command: number, family: number, addresses: Buffer): Buffer {
  const header = v2Header(
    command,
    family,
    Buffer.concat([addresses, Buffer.from([0x03, 0x00, 0x04, 0, 0, 0, 0])]),
  );
  header.writeUInt32BE(crc32cBitwise(header), header.length - 4);
  return header;
}

/**
 * Connects, writes each of `writes` (awaiting a turn of the event loop and the kernel between
 * them, so each goes as its own segment), and reads until the gateway closes. `closed` is false
 * when the gateway still held it after 5 s (the default header timeout is 10 s: a refusal
 * that came at once is told from one that waited for the timeout).
 */
export async function exchangeWrites(
  port: number,
  writes: (string | Buffer)[],
): Promise<{ text: string; closed: boolean }> {
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  const chunks: Buffer[] = [];
  let closed = false;
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => {});
  const ended = new Promise<void>((resolve) =>
    socket.once('close', () => {
      closed = true;
      resolve();
    }),
  );
  await new Promise((resolve) => socket.once('connect', resolve));
  for (const bytes of writes) {
    if (closed) break;
    await new Promise((resolve) => socket.write(bytes, resolve));
    if (writes.length > 1) await new Promise((resolve) => setTimeout(resolve, 2));
  }
  let timer: NodeJS.Timeout | undefined;
  const wasClosed = await Promise.race([
    ended.then(() => true),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), 5000);
    }),
  ]);
  clearTimeout(timer);
  socket.destroy();
  return { text: Buffer.concat(chunks).toString('latin1'), closed: wasClosed };
}
