import type { Socket } from 'node:net';
import { isReset } from '../../core/failure/classify.ts';

interface TunnelOptions {
  /** Bytes the upstream sent after its 101, in the same read. */
  readonly fromUpstream: Buffer;
  /** Bytes the client sent after its request head (held until the upstream switched). */
  readonly fromClient: Buffer;
  /** Bytes passed from the client to the upstream, and back: counted for the log line. */
  readonly fromClientBytes: (n: number) => void;
  readonly fromUpstreamBytes: (n: number) => void;
  /** The upstream's side ended in a TCP reset. */
  readonly upstreamReset: () => void;
  /** Milliseconds without a byte either way after which both sides are closed. */
  readonly idleTimeout: number;
  /** Both ends are closed. */
  readonly closed: () => void;
}

/**
 * The forward step of an upgrade, after the upstream's 101: a two-way pipe with backpressure
 * both ways (each side's buffer is bounded by its stream's high-water mark). A side that ends
 * its half ends the other's; a side that closes or fails closes both.
 */
export function openTunnel(client: Socket, upstream: Socket, options: TunnelOptions): void {
  let ended = false;
  // A tunnel nobody uses holds two sockets and a file descriptor each: silence has a bound.
  const idle = setTimeout(() => end(), options.idleTimeout);
  const end = () => {
    if (ended) return;
    ended = true;
    clearTimeout(idle);
    client.destroy();
    upstream.destroy();
    options.closed();
  };
  client.on('data', (chunk: Buffer) => {
    idle.refresh();
    options.fromClientBytes(chunk.length);
  });
  upstream.on('data', (chunk: Buffer) => {
    idle.refresh();
    options.fromUpstreamBytes(chunk.length);
  });
  upstream.on('error', (err) => {
    if (isReset(err)) options.upstreamReset();
    end();
  });
  client.on('error', end);
  client.on('close', end);
  upstream.on('close', end);
  if (options.fromUpstream.length > 0) {
    options.fromUpstreamBytes(options.fromUpstream.length);
    client.write(options.fromUpstream);
  }
  if (options.fromClient.length > 0) {
    options.fromClientBytes(options.fromClient.length);
    upstream.write(options.fromClient);
  }
  client.pipe(upstream);
  upstream.pipe(client);
}
