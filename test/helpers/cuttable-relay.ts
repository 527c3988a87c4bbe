import net from 'node:net';

/** A TCP relay in front of a loopback port that a test can cut (a network partition) and mend. */
export interface CuttableRelay {
  readonly port: number;
  /** Every connection through it destroyed, and each new one too, until mend(). */
  cut(): void;
  mend(): void;
  close(): Promise<void>;
}

/**
 * One gateway's path to a shared server (its fleet's Redis) that fails while the server stays up
 * for the others: what a partition does, which stopping the server itself cannot show.
 */
export async function cuttableRelay(port: number): Promise<CuttableRelay> {
  const sockets = new Set<net.Socket>();
  let cut = false;
  const server = net.createServer((client) => {
    if (cut) return client.destroy();
    const upstream = net.connect(port, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      socket.on('error', () => {});
    }
    client.pipe(upstream).pipe(client);
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    cut() {
      cut = true;
      for (const socket of sockets) socket.destroy();
    },
    mend() {
      cut = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
