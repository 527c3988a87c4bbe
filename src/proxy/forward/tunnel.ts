import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { UpstreamTimeouts } from '../../core/config/types.ts';
import { isReset } from '../../core/failure/classify.ts';
import type { TunnelCut } from '../../core/net/downstream.ts';
import type { RequestRecord } from '../../observe/log/request-record.ts';
import { FrameBoundary, goingAwayFrame } from './ws-frames.ts';

interface TunnelOptions {
  /** Bytes the upstream sent after its 101, in the same read. */
  readonly fromUpstream: Buffer;
  /** Bytes the client sent after its request head (held until the upstream switched). */
  readonly fromClient: Buffer;
  /**
   * The request's log record: the bytes the client sent through the tunnel (tunnelBytesIn) and
   * who closed it (tunnelClosedBy), written as soon as known (the client's close ends the line,
   * maybe before the tunnel hears it).
   */
  readonly record: RequestRecord;
  /** Bytes passed from the upstream to the client: counted for the log line. */
  readonly fromUpstreamBytes: (n: number) => void;
  /** The upstream's side ended in a TCP reset. */
  readonly upstreamReset: () => void;
  /**
   * The route's (else the upstream's): tunnelIdle, milliseconds without a byte either way after
   * which both sides are closed; tunnelHalfClosed, the same once a side has ended its half (FIN),
   * when shorter.
   */
  readonly timeouts: Pick<UpstreamTimeouts, 'tunnelIdle' | 'tunnelHalfClosed'>;
  /** Both ends are closed. */
  readonly closed: () => void;
  /** The upstream switched to WebSocket: a drain's deadline sends each side a Close frame before the cut. */
  readonly websocket: boolean;
  /** Where the tunnel leaves its last words for the server's cut (SwitchedConnection.beforeDrainCut). */
  readonly beforeDrainCut: (farewell: (why: TunnelCut) => void) => void;
}

type TunnelCloser = NonNullable<RequestRecord['tunnelClosedBy']>;

/**
 * The forward step of an upgrade, after the upstream's 101: a two-way pipe with backpressure
 * both ways (each side's buffer is bounded by its stream's high-water mark). A side that ends
 * its half ends the other's, and shortens the silence allowed; a side that fails, or closes without having ended its half (cut),
 * closes both; a side that closes after its FIN closes both once what it sent is flushed.
 */
export function openTunnel(client: Socket, upstream: Socket, options: TunnelOptions): void {
  // The pool's sockets answer an upstream's FIN by ending their side (a keep-alive connection
  // the upstream closed); in a tunnel that FIN is the upstream's half-close, passed on to the
  // client, and what the client still sends is still the upstream's to read (the client's
  // socket was made half-open by its server).
  upstream.allowHalfOpen = true;
  let ended = false;
  // One side is gone and the other is being given what it sent: no byte keeps the tunnel open now.
  let closing = false;
  const { record } = options;
  // Who closed it: the first side that ended its half (FIN), failed or closed, else its silence
  // or the drain's deadline. The first word wins (a side's close that follows its peer's, or the
  // drain's cut of a tunnel half closed, is the end of the tunnel, not its cause).
  const closedBy = (who: TunnelCloser) => {
    record.tunnelClosedBy ??= who;
  };
  // A tunnel nobody uses holds two sockets and a file descriptor each: silence has a bound
  // (and so has the flush to a side that stopped reading once the other closed).
  const silent = () => {
    closedBy('idle_timeout');
    end();
  };
  const { tunnelIdle, tunnelHalfClosed } = options.timeouts;
  let idle = setTimeout(silent, tunnelIdle);
  // A side's FIN: WebSocket has no use for a half-close, the other side is expected to close
  // soon (a closed tab behind an upstream that ignores the FIN would hold both sockets for the
  // idle bound). From the first FIN the silence allowed is the half-closed bound, the smaller
  // of the two; bytes the other side still sends refresh it. Should it pass, the cause logged
  // stays the side whose FIN came first (the first word).
  let halfClosed = false;
  const halfClose = () => {
    if (halfClosed || ended || tunnelHalfClosed >= tunnelIdle) return;
    halfClosed = true;
    clearTimeout(idle);
    idle = setTimeout(silent, tunnelHalfClosed);
  };
  /** Both sides close; `broken`, the side that failed: the other is cut by a reset. */
  const end = (broken?: Socket) => {
    if (ended) return;
    ended = true;
    clearTimeout(idle);
    if (broken !== undefined) cut(broken === client ? upstream : client);
    client.destroy();
    upstream.destroy();
    options.closed();
  };
  const sideOf = (side: Socket): TunnelCloser => (side === client ? 'client' : 'upstream');
  // A side closed after its FIN: its last bytes may still sit in the other side's write buffer
  // (a slow reader); destroying that side now would drop them. It is ended (FIN after the flush)
  // and the tunnel closes once it has flushed. A side closed without its FIN was cut: both go.
  const closed = (side: Socket, other: Socket) => () => {
    closedBy(sideOf(side));
    if (!side.readableEnded || other.destroyed || other.writableFinished) return end();
    closing = true;
    other.once('finish', end);
    other.end();
  };
  client.on('data', (chunk: Buffer) => {
    if (!closing) idle.refresh();
    record.tunnelBytesIn += chunk.length;
  });
  upstream.on('data', (chunk: Buffer) => {
    if (!closing) idle.refresh();
    options.fromUpstreamBytes(chunk.length);
  });
  upstream.on('error', (err) => {
    if (isReset(err)) options.upstreamReset();
    closedBy('upstream');
    end(upstream);
  });
  client.on('error', () => {
    closedBy('client');
    end(client);
  });
  client.once('end', () => {
    closedBy('client');
    halfClose();
  });
  upstream.once('end', () => {
    closedBy('upstream');
    halfClose();
  });
  client.on('close', closed(client, upstream));
  upstream.on('close', closed(upstream, client));
  if (options.fromUpstream.length > 0) {
    options.fromUpstreamBytes(options.fromUpstream.length);
    client.write(options.fromUpstream);
  }
  if (options.fromClient.length > 0) {
    record.tunnelBytesIn += options.fromClient.length;
    upstream.write(options.fromClient);
  }
  const farewell = options.websocket ? tellWhenCut(client, upstream, options) : undefined;
  // The drain's deadline (or a reload that revoked the client's certificate) cuts the client's
  // socket: the tunnel's end is the gateway's, said so before the close it makes reads as the client's.
  options.beforeDrainCut((why) => {
    closedBy(why);
    farewell?.();
  });
  client.pipe(upstream);
  upstream.pipe(client);
}

/**
 * The words a WebSocket tunnel the drain's deadline cuts says first: each side gets a Close frame
 * (1001, going away), where what it was sent ends between two frames and nothing of it waits
 * unsent (the cut would drop the frame with them). Its client then reads a server that left,
 * not the abnormal closure (1006) of a connection lost, and its app knows to reconnect elsewhere.
 */
function tellWhenCut(client: Socket, upstream: Socket, options: TunnelOptions): () => void {
  const toClient = new FrameBoundary();
  const toUpstream = new FrameBoundary();
  toClient.feed(options.fromUpstream);
  toUpstream.feed(options.fromClient);
  upstream.on('data', (chunk: Buffer) => toClient.feed(chunk));
  client.on('data', (chunk: Buffer) => toUpstream.feed(chunk));
  const tell = (side: Socket, boundary: FrameBoundary, masked: boolean) => {
    if (boundary.atBoundary && side.writable && side.writableLength === 0) side.write(goingAwayFrame(masked));
  };
  return () => {
    tell(client, toClient, false);
    tell(upstream, toUpstream, true);
  };
}

/**
 * The other side of one that broke (a reset, an error): what it carried ends in a reset, as a
 * response body the close delimits does, since a FIN would tell its peer the stream ended
 * whole. Only a plain TCP socket can send one; over TLS the close without close_notify tells it.
 */
function cut(socket: Socket): void {
  if (socket.destroyed) return;
  if ((socket as TLSSocket).encrypted === true) socket.destroy();
  else socket.resetAndDestroy();
}
