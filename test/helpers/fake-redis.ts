import net from 'node:net';

/** A server on loopback that speaks just enough RESP to be taken for Redis. */
export interface FakeRedis {
  readonly url: string;
  /** Script calls (EVALSHA or EVAL) answered so far. */
  readonly scriptCalls: number;
  close(): Promise<void>;
}

/**
 * A misbehaving Redis: a real socket speaking RESP, which answers the handshake as Redis
 * does (AUTH, the ready check's INFO) and every script call with `scriptReply()`, raw RESP
 * (":-7\r\n", "$3\r\n0.5\r\n", "*0\r\n", "$-1\r\n"...). What a proxy in front of Redis, or
 * another program on its port, could send.
 */
export async function startFakeRedis(scriptReply: () => string): Promise<FakeRedis> {
  let scriptCalls = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const parsed = readCommand(pending);
        if (parsed === undefined) return;
        pending = pending.subarray(parsed.used);
        const name = parsed.args[0]?.toUpperCase();
        if (name === 'EVALSHA' || name === 'EVAL') {
          scriptCalls++;
          socket.write(scriptReply());
        } else if (name === 'INFO') {
          const info = '# Server\r\nredis_version:7.0.0\r\n# Persistence\r\nloading:0\r\n';
          socket.write(`$${Buffer.byteLength(info)}\r\n${info}\r\n`);
        } else {
          socket.write('+OK\r\n');
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `redis://:secret@127.0.0.1:${port}`,
    get scriptCalls() {
      return scriptCalls;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** One RESP array of bulk strings (what clients send), or undefined until it is whole. */
function readCommand(buffer: Buffer): { args: string[]; used: number } | undefined {
  let at = 0;
  const line = (): string | undefined => {
    const end = buffer.indexOf('\r\n', at);
    if (end === -1) return undefined;
    const text = buffer.toString('latin1', at, end);
    at = end + 2;
    return text;
  };
  const head = line();
  if (head === undefined) return undefined;
  if (!head.startsWith('*')) return { args: head.split(' '), used: at };
  const count = Number(head.slice(1));
  const args: string[] = [];
  for (let i = 0; i < count; i++) {
    const size = line();
    if (size === undefined) return undefined;
    const length = Number(size.slice(1));
    if (buffer.length < at + length + 2) return undefined;
    args.push(buffer.toString('utf8', at, at + length));
    at += length + 2;
  }
  return { args, used: at };
}
