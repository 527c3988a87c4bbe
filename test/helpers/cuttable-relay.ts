import net from 'node:net';

/** A TCP relay in front of a loopback port that a test can cut (a network partition) and mend. */
export interface CuttableRelay {
  readonly port: number;
  /** Every connection through it destroyed, and each new one too, until mend(). */
  cut(): void;
  mend(): void;
  /**
   * Every request whose first bytes hold `marker` (an HTTP path, say) cut as it arrives, the
   * rest relayed, until mend() (or, with `count`, the next `count` such requests only): one
   * kind of call failing while the others go through.
   */
  cutAt(marker: string, count?: number): void;
  /**
   * From the first bytes a client sends that hold `marker` (a command's text) on, what clients
   * send waits in the relay until release(): resolves once it holds them. What another client
   * does meanwhile lands first, as a race lost by that command would have it, with no timing.
   */
  holdAt(marker: string): Promise<void>;
  release(): void;
  /**
   * New connections go to `port` from now on; those open stay where they were: a failover behind
   * one address (a DNS name or a virtual IP moved to the new primary).
   */
  moveTo(port: number): void;
  /**
   * Every connection open now goes silent both ways, with no FIN and no RST, as a far end gone
   * without a word (its host lost, a NAT that forgot the flow); new connections work.
   */
  silence(): void;
  close(): Promise<void>;
}

/**
 * One gateway's path to a shared server (its fleet's Redis) that fails while the server stays up
 * for the others: what a partition does, which stopping the server itself cannot show.
 */
export async function cuttableRelay(port: number): Promise<CuttableRelay> {
  const sockets = new Set<net.Socket>();
  let cut = false;
  let cutMarker: { marker: string; left: number } | undefined;
  let hold: { marker: string; held: boolean; reached: () => void } | undefined;
  const waiting: (() => void)[] = [];
  let target = port;
  const pairs = new Map<net.Socket, net.Socket>();
  const silenced = new Set<net.Socket>();
  const server = net.createServer((client) => {
    if (cut) return client.destroy();
    const upstream = net.connect(target, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      socket.on('error', () => {});
    }
    pairs.set(client, upstream);
    client.once('close', () => pairs.delete(client));
    client.on('data', (chunk: Buffer) => {
      if (silenced.has(client)) return;
      if (cutMarker !== undefined && cutMarker.left > 0 && chunk.includes(cutMarker.marker)) {
        cutMarker.left--;
        client.destroy();
        return upstream.destroy();
      }
      if (hold !== undefined && !hold.held && chunk.includes(hold.marker)) {
        hold.held = true;
        hold.reached();
      }
      if (hold?.held) waiting.push(() => upstream.write(chunk));
      else upstream.write(chunk);
    });
    upstream.pipe(client);
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
      cutMarker = undefined;
    },
    cutAt(marker, count = Number.POSITIVE_INFINITY) {
      cutMarker = { marker, left: count };
    },
    holdAt: (marker) =>
      new Promise<void>((resolve) => {
        hold = { marker, held: false, reached: resolve };
      }),
    release() {
      hold = undefined;
      for (const send of waiting.splice(0)) send();
    },
    moveTo(port) {
      target = port;
    },
    silence() {
      for (const [client, upstream] of pairs) {
        silenced.add(client);
        upstream.unpipe(client);
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
