/**
 * A client connection's answer writes gathered until the end of the event-loop turn
 * (turn-end.ts; http1-answer.ts's deferToTurnEnd): the head's text and the body's bytes are kept
 * here and handed to the socket at the turn's end as one Buffer, through one write. One per
 * connection (made at its first request), its list of pieces kept from answer to answer.
 *
 * Why not the socket's cork: corked, each write is an entry in the Writable's buffer, and the
 * uncork runs them through `clearBuffer` and `_writev` to the native `Writev`, which allocates a
 * store for the head's string and copies it there. Under perf (c50 keep-alive, a 100-byte
 * answer) that path took some 0.9 µs a request more than one Buffer's write, and 5 objects and
 * 280 bytes more (docs/data-path.md).
 */
import type { Socket } from 'node:net';

/**
 * The most an answer gathers: the bound under which `Buffer.allocUnsafe` slices node's shared
 * pool (`Buffer.poolSize >>> 1`) instead of allocating, and far under a socket's high-water mark,
 * so a gathered write returns true as a corked one would. Past it, the socket is corked as it
 * was for every answer: a large body is copied no more than the socket copies it.
 */
const GATHERED_MAX = 4095;

export class TurnWrites {
  readonly #socket: Socket;
  /** What was written while gathering, in order: latin1 text or bytes (slots past #count are empty). */
  readonly #pieces: (string | Buffer | undefined)[] = [];
  #count = 0;
  #length = 0;
  #gathering = false;
  /** Corks put on the socket until turns' ends (instead of gathering). */
  #corks = 0;

  constructor(socket: Socket) {
    this.#socket = socket;
  }

  get gathering(): boolean {
    return this.#gathering;
  }

  /** Bytes gathered, not yet the socket's. */
  get length(): number {
    return this.#length;
  }

  /**
   * What is written waits for turnEnded(): gathered here, unless the socket still has bytes its
   * client has not taken (a gathered write could not know what the socket's write will return)
   * or is corked already: then corked.
   */
  untilTurnEnd(): void {
    if (this.#corks === 0 && this.#socket.writableLength === 0) this.#gathering = true;
    else {
      this.#socket.cork();
      this.#corks++;
    }
  }

  /** The turn's end: what was gathered leaves, or a cork comes off. False: the socket is past its high-water mark. */
  turnEnded(): boolean {
    if (this.#gathering) return this.flush();
    if (this.#corks > 0) {
      this.#corks--;
      this.#socket.uncork();
    }
    return true;
  }

  /** Writes a piece (latin1 text, or bytes): gathered while it may be, else the socket's. */
  write(piece: string | Buffer): boolean {
    if (!this.#gathering) return this.#socket.write(piece, 'latin1');
    if (this.#length + piece.length <= GATHERED_MAX) {
      this.#pieces[this.#count++] = piece;
      this.#length += piece.length;
      return true;
    }
    // Too large to gather: corked for the rest of the turn, what was gathered written first.
    this.#socket.cork();
    this.#corks++;
    this.flush();
    return this.#socket.write(piece, 'latin1');
  }

  /** What was gathered goes to the socket now, as one write (dropped if the socket is gone). False as the socket's write. */
  flush(): boolean {
    this.#gathering = false;
    const count = this.#count;
    if (count === 0) return true;
    const one = count === 1 ? (this.#pieces[0] as string | Buffer) : this.#joined(count);
    this.#pieces[0] = undefined;
    this.#count = 0;
    this.#length = 0;
    return this.#socket.destroyed || this.#socket.write(one, 'latin1');
  }

  /** The pieces gathered as one Buffer, their slots emptied: a body's bytes are not kept past the write. */
  #joined(count: number): Buffer {
    const pieces = this.#pieces;
    const out = Buffer.allocUnsafe(this.#length);
    let at = 0;
    for (let i = 0; i < count; i++) {
      const piece = pieces[i] as string | Buffer;
      pieces[i] = undefined;
      if (typeof piece === 'string') at += out.write(piece, at, 'latin1');
      else {
        out.set(piece, at);
        at += piece.length;
      }
    }
    return out;
  }
}
