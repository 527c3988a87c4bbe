/**
 * The reads of an HTTP/1.1 connection to an upstream over plain TCP, handed to their reader
 * straight from the socket's read (`net.connect`'s `onread`), into one buffer of the process's,
 * not through node's Readable. For a 'data' socket node allocates a 64 KiB store a read (malloc,
 * and V8's accounting of an external store) and runs the Readable's push and 'data' emit: under
 * perf (c50 keep-alive, one upstream read a request) the read path took some 0.6 µs a request
 * more, and 6 objects and 310 bytes more (docs/data-path.md). The next read, of any connection,
 * overwrites the buffer: whatever a reader keeps past its call (a body's bytes, what follows an
 * upgrade's 101) it copies out. A TLS socket is read as before ('data'): node decrypts its
 * reads; so is h2c's, which node:http2 reads.
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
 * The socket leaves its reader for whoever reads it as a stream (an upgrade's tunnel: 'data',
 * pipe): each read is copied into the socket's Readable, whose backpressure stops the reads.
 */
export function readsAsStream(socket: Socket): void {
  if (READER in socket) (socket as ReadSocket)[READER] = (bytes) => socket.push(Buffer.from(bytes));
}
