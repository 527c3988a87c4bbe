import net from 'node:net';
import { FLAG, FRAME, frame, PREFACE, settings, settingsAck } from '../proxy/accept/h2/h2-frames.ts';

/** What the script does with one request stream: write raw frames, reset, close, or nothing (hang). */
export type H2Script = (socket: net.Socket, streamId: number) => void;

export interface ScriptedH2Upstream {
  /** http://127.0.0.1:PORT, for an `h2c` upstream. */
  readonly url: string;
  /** The request streams opened (HEADERS frames received), in order, across connections. */
  readonly streams: number[];
  /** Connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

/**
 * A raw HTTP/2 upstream on loopback (h2c, prior knowledge): after the gateway's preface it sends
 * its SETTINGS, acknowledges the gateway's and answers its PINGs as any server, and hands each
 * request stream to `script`, which writes what no server library would (h2-frames.ts). Its
 * SETTINGS carry `initial` (h2-frames.ts's SETTING ids and values). `afterPingAck` runs once a
 * PING's answer is written (a test that holds the loop with the answer in the gateway's socket).
 */
export async function scriptedH2Upstream(
  script: H2Script,
  initial: readonly [number, number][] = [],
  afterPingAck?: () => void,
): Promise<ScriptedH2Upstream> {
  const sockets = new Set<net.Socket>();
  const streams: number[] = [];
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let pending = Buffer.alloc(0);
    let prefaced = false;
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      if (!prefaced) {
        if (pending.length < PREFACE.length) return;
        pending = pending.subarray(PREFACE.length);
        prefaced = true;
        socket.write(settings(initial));
      }
      while (pending.length >= 9 && pending.length >= 9 + pending.readUIntBE(0, 3)) {
        const length = pending.readUIntBE(0, 3);
        const [type, flags, stream] = [pending[3], pending[4], pending.readUInt32BE(5) & 0x7fffffff];
        const payload = pending.subarray(9, 9 + length);
        pending = pending.subarray(9 + length);
        if (type === FRAME.SETTINGS && (flags & FLAG.ACK) === 0) socket.write(settingsAck());
        if (type === FRAME.PING && (flags & FLAG.ACK) === 0) {
          socket.write(frame(FRAME.PING, FLAG.ACK, 0, payload));
          afterPingAck?.();
        }
        if (type === FRAME.HEADERS) {
          streams.push(stream);
          script(socket, stream);
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    streams,
    connections: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
