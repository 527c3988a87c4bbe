import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';

export interface PacedHandshake {
  /** Whether the handshake went through before the gateway closed the connection. */
  readonly secure: boolean;
  /** What came back over TLS after `request` was sent (empty when the handshake never ended). */
  readonly text: string;
}

/**
 * A TLS client to `port` whose handshake takes its time: each of its first writes (the
 * ClientHello, then its second flight) waits `pauses[i]` ms before it leaves, the first sent a
 * byte ahead of the rest (a server that passes a connection on its first byte has it then).
 * Once secure it sends `request`; resolves when the server closes the TCP connection.
 */
export async function pacedHandshake(
  port: number,
  ca: string | Buffer,
  pauses: readonly number[],
  request: string,
): Promise<PacedHandshake> {
  const raw = net.connect(port, '127.0.0.1');
  raw.on('error', () => {});
  const closed = new Promise((resolve) => raw.once('close', resolve));
  await new Promise((resolve) => raw.once('connect', resolve));
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  let writes = 0;
  const paced = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      const wait = pauses[writes++] ?? 0;
      if (wait === 0) return void raw.write(chunk, callback);
      void (async () => {
        if (writes === 1) {
          await pause(wait / 2);
          raw.write(chunk.subarray(0, 1));
          await pause(wait / 2);
          raw.write(chunk.subarray(1), callback);
        } else {
          await pause(wait);
          raw.write(chunk, callback);
        }
      })();
    },
  });
  raw.on('data', (c: Buffer) => paced.push(c));
  raw.once('close', () => paced.push(null));
  const socket = tls.connect({ socket: paced as unknown as net.Socket, servername: 'localhost', ca });
  let secure = false;
  let text = '';
  socket.on('error', () => {});
  socket.on('data', (c: Buffer) => {
    text += c.toString('latin1');
  });
  socket.once('secureConnect', () => {
    secure = true;
    socket.write(request);
  });
  await closed;
  socket.destroy();
  return { secure, text };
}
