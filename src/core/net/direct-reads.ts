/**
 * The reads of a plain TCP socket handed to their reader straight from the socket's read, into
 * one buffer of the process's, not through node's Readable: an HTTP/1.1 connection to an
 * upstream (`net.connect`'s `onread`) and a client's HTTP/1.1 connection on a plain listener.
 * For a 'data' socket node allocates a 64 KiB store a read (malloc, and V8's accounting of an
 * external store) and runs the Readable's push and 'data' emit: under perf (c50 keep-alive, one
 * upstream read a request) the read path took some 0.6 µs a request more, and 6 objects and 310
 * bytes more (docs/data-path.md). The next read, of any socket, overwrites the buffer: whatever
 * a reader keeps past its call (a body's bytes, pipelined requests, what follows an upgrade's
 * head) it copies out. A TLS socket is read as before ('data'): node decrypts its reads; so is
 * h2c's, which node:http2 reads.
 */
import net, { type Socket } from 'node:net';

/** Given each read, as a view of the shared buffer. `false`: read no more until the socket is resumed. */
export type Reader = (bytes: Buffer) => unknown;

const READER = Symbol('candor.reader');
type ReadSocket = Socket & { [READER]?: Reader | null };

/** The largest read: what node's own reads are given (64 KiB). */
const BUFFER = Buffer.allocUnsafe(64 * 1024);

const DIRECT_READS = {
  buffer: BUFFER,
  callback(this: ReadSocket, length: number): boolean {
    const reader = this[READER];
    if (reader !== null && reader !== undefined) return reader(BUFFER.subarray(0, length)) !== false;
    // Bytes before the connection took the socket: nobody asked for them.
    this.destroy();
    return false;
  },
};

/** A plain TCP connection whose reads a reader takes (takeReads): until one does, bytes that come close it. */
export function connectDirectReads(options: net.TcpNetConnectOpts): Socket {
  const socket: ReadSocket = net.connect({ ...options, onread: DIRECT_READS });
  socket[READER] = null;
  return socket;
}

/** `reader` takes the socket's reads, when it was made to hand them over (true); false: read it through 'data'. */
export function takeReads(socket: Socket, reader: Reader): boolean {
  if (!(READER in socket)) return false;
  (socket as ReadSocket)[READER] = reader;
  return true;
}

/**
 * Where a socket keeps what `onread` gave it (its buffer, its callback, a maker of buffers),
 * under node's own private names, found once on a socket node made (undefined: a Node that keeps
 * them otherwise, whose accepted sockets are then read through 'data').
 */
const ONREAD_FIELDS = onreadFields();

function onreadFields(): { buffer: symbol; callback: symbol; maker: symbol } | undefined {
  const probe = new net.Socket();
  const named = (name: string) => Object.getOwnPropertySymbols(probe).find((s) => s.description === name);
  const buffer = named('kBuffer');
  const callback = named('kBufferCb');
  const maker = named('kBufferGen');
  probe.destroy();
  return buffer === undefined || callback === undefined || maker === undefined
    ? undefined
    : { buffer, callback, maker };
}

/** The native stream a plain accepted socket reads through, with what `onread` asks of it. */
interface UserBufferHandle {
  useUserBuffer(buffer: Uint8Array): void;
}

/**
 * A socket a plain listener accepted reads as `net.connect`'s `onread` would have it, its reads
 * to `reader` (node:net gives `onread` to the sockets it connects, not to those a server accepts:
 * this sets the same fields its constructor sets, and asks the native stream for the same
 * buffer). False, and nothing changed, for a socket it cannot take: a TLS one, one without its
 * native stream, or a Node whose sockets keep `onread` otherwise. Reads node had already made
 * into the socket's Readable (bytes a PROXY header's reader put back) still come as 'data'.
 */
export function takeAcceptedReads(socket: Socket, reader: Reader): boolean {
  const fields = ONREAD_FIELDS;
  const handle = (socket as Socket & { _handle?: Partial<UserBufferHandle> | null })._handle;
  if (fields === undefined || typeof handle?.useUserBuffer !== 'function') return false;
  if ('encrypted' in socket || socket.destroyed) return false;
  const fieldsOf = socket as unknown as Record<symbol, unknown>;
  // Only a socket that reads through node's Readable now (no `onread` of its own already).
  if (fieldsOf[fields.buffer] !== null || fieldsOf[fields.maker] !== null) return false;
  (socket as ReadSocket)[READER] = reader;
  fieldsOf[fields.buffer] = BUFFER;
  fieldsOf[fields.callback] = DIRECT_READS.callback;
  handle.useUserBuffer(BUFFER);
  return true;
}

/**
 * `bytes` to keep past the read that gave them: a copy when they are a view of the shared buffer
 * (the next read overwrites it), themselves when they are not (a 'data' read, a copy already).
 */
export function kept(bytes: Buffer): Buffer {
  return bytes.buffer === BUFFER.buffer ? Buffer.from(bytes) : bytes;
}

/**
 * The socket leaves its reader for whoever reads it as a stream (an upgrade's tunnel: 'data',
 * pipe): each read is copied into the socket's Readable, whose backpressure stops the reads.
 */
export function readsAsStream(socket: Socket): void {
  if (READER in socket) (socket as ReadSocket)[READER] = (bytes) => socket.push(Buffer.from(bytes));
}
