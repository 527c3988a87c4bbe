import net from 'node:net';

/** One request as the scripted upstream read it: its head (request line and fields) and body bytes. */
export interface ScriptedRequest {
  readonly head: string;
  /** The connection it came on, 1-based, in accept order. */
  readonly connection: number;
  /** Its place on that connection, 1-based. */
  readonly onConnection: number;
}

/** What the script does with one request: write raw bytes, reset, close, or nothing (hang). */
export type Script = (socket: net.Socket, request: ScriptedRequest) => void;

export interface ScriptedUpstream {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  /** Every request head received, in order. */
  readonly requests: ScriptedRequest[];
  /** Connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

/**
 * A raw TCP upstream on loopback that answers each request head with whatever `script` writes:
 * a real misbehaving peer (no node:http in the way, so it can send what no server library would).
 * A request body announced by Content-Length is read and dropped before the script runs.
 */
export async function scriptedUpstream(script: Script): Promise<ScriptedUpstream> {
  const sockets = new Set<net.Socket>();
  const requests: ScriptedRequest[] = [];
  let accepted = 0;
  const server = net.createServer((socket) => {
    const connection = ++accepted;
    let onConnection = 0;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let pending = Buffer.alloc(0);
    let bodyLeft = 0;
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        if (bodyLeft > 0) {
          const take = Math.min(bodyLeft, pending.length);
          bodyLeft -= take;
          pending = pending.subarray(take);
          if (bodyLeft > 0) return;
        }
        const end = pending.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = pending.subarray(0, end).toString('latin1');
        pending = pending.subarray(end + 4);
        bodyLeft = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        const request = { head, connection, onConnection: ++onConnection };
        requests.push(request);
        script(socket, request);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    connections: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
