import type { Socket } from 'node:net';

/** What a tunnel counts for the log line. */
export interface TunnelCounts {
  /** Bytes from the client to the upstream. */
  bytesIn: number;
  /** Bytes from the upstream to the client. */
  bytesOut: number;
  upstreamReset: boolean;
}

export interface TunnelOptions {
  /** Bytes the upstream sent after its 101, in the same read. */
  readonly fromUpstream: Buffer;
  /** Bytes the client sent after its request head (held until the upstream switched). */
  readonly fromClient: Buffer;
  readonly counted: TunnelCounts;
  /** Both ends are closed. */
  readonly closed: () => void;
}

/**
 * The forward step of an upgrade, after the upstream's 101: a two-way pipe with backpressure
 * both ways (each side's buffer is bounded by its stream's high-water mark). A side that ends
 * its half ends the other's; a side that closes or fails closes both.
 */
export function openTunnel(client: Socket, upstream: Socket, options: TunnelOptions): void {
  const counts = options.counted;
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    client.destroy();
    upstream.destroy();
    options.closed();
  };
  client.on('data', (chunk: Buffer) => {
    counts.bytesIn += chunk.length;
  });
  upstream.on('data', (chunk: Buffer) => {
    counts.bytesOut += chunk.length;
  });
  upstream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'ECONNRESET') counts.upstreamReset = true;
    end();
  });
  client.on('error', end);
  client.on('close', end);
  upstream.on('close', end);
  if (options.fromUpstream.length > 0) {
    counts.bytesOut += options.fromUpstream.length;
    client.write(options.fromUpstream);
  }
  if (options.fromClient.length > 0) {
    counts.bytesIn += options.fromClient.length;
    upstream.write(options.fromClient);
  }
  client.pipe(upstream);
  upstream.pipe(client);
}
