import type { Socket } from 'node:net';
import type { BodyOut } from '../body-pump.ts';

const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');
const CRLF = Buffer.from('\r\n', 'latin1');

/** A request body of announced length, on an HTTP/1.1 socket: its bytes go out as they come. */
export class PlainOut implements BodyOut {
  protected readonly socket: Socket;

  constructor(socket: Socket) {
    this.socket = socket;
  }

  write(chunk: Buffer): boolean {
    return this.socket.write(chunk);
  }

  end(): void {}

  once(event: 'drain', listener: () => void): void {
    this.socket.once(event, listener);
  }

  off(event: 'drain', listener: () => void): void {
    this.socket.off(event, listener);
  }
}

/** A request body whose length the client did not announce: each piece a chunk, then the last chunk (RFC 9112 §7.1). */
export class ChunkedOut extends PlainOut {
  override write(chunk: Buffer): boolean {
    const { socket } = this;
    socket.cork();
    socket.write(chunkSizeLine(chunk.length), 'latin1');
    socket.write(chunk);
    const flushed = socket.write(CRLF);
    socket.uncork();
    return flushed;
  }

  override end(): void {
    this.socket.write(LAST_CHUNK);
  }
}

/**
 * "SIZE\r\n" for a chunk of `length` bytes. A fast upload arrives in reads of one size (the
 * socket's, 64 KiB) but for its last: the line of the size seen last is kept, so such a body
 * makes one string, not one per chunk.
 */
let lastChunkLength = -1;
let lastChunkLine = '';
function chunkSizeLine(length: number): string {
  if (length !== lastChunkLength) {
    lastChunkLength = length;
    lastChunkLine = `${length.toString(16)}\r\n`;
  }
  return lastChunkLine;
}
