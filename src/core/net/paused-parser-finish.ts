/**
 * A server's close must not crash the process while fetch holds its answer back (nodejs/undici#5360).
 *
 * undici 7 (Node 24.21 bundles 7.29.1; npm's 7.30.2 is the same) pauses its HTTP/1.1 parser when
 * the reader of a body falls behind (backpressure: fetch's stream is full), and hands it the connection's end with `finish()` (the server's FIN on the socket's 'end', an
 * ECONNRESET on its 'error', a close before either on its 'close'), which begins with
 * `assert(!this.paused)`. On an answer that does not keep the connection (`Connection: close`,
 * HTTP/1.0, a body the close delimits) a close that comes while the parser is paused throws that
 * AssertionError from a socket event, outside every promise: the process dies, whatever the app
 * catches. The FIN is seen paused whenever the parser paused on the body's last bytes (a body of
 * 64 KiB unread; Python's http.server, HTTP/1.0, read 2 ms a chunk), the RST whenever it paused with
 * little left to read. undici 8 mends it in `finish()` itself (nodejs/undici#5389), but Node 24's
 * fetch runs its own undici (an undici 8 Agent as its dispatcher refuses the handlers that fetch
 * dispatches), so this mends the same `finish()` on the connections it is given.
 *
 * What it does: when `finish()` finds the parser paused, it lets the parser on first. At the FIN,
 * the socket holds nothing more ('end' comes once its buffer is read), so the parser runs on no
 * bytes: a body whose length came whole completes there, as it would have unpaused; a body that
 * stops short, or one the close delimits, is then judged by undici's own `finish()` as always. At an
 * RST or a close (the socket destroyed) the parser is only let go, and `finish()` judges: undici's
 * reading of a reset without keep-alive stays as it was (bytes still on the socket then are not
 * given: undici refuses a body on a destroyed socket, undici 8 too). So nothing is read ahead and nothing is
 * held: what the reader has not taken was already in fetch's stream, and backpressure is untouched
 * up to the close.
 *
 * This reaches into undici's parser (not its API): the socket's `Symbol('parser')`, its `paused`,
 * `ptr`, `statusCode`, `execute` and `llhttp.llhttp_resume`. It is done only where they all are and
 * the parser's `finish` still asserts `!this.paused` (its source says so); an undici that fixed
 * it, or changed shape, is left alone, as it was before.
 */
import type { Socket } from 'node:net';

/** undici's HTTP/1.1 parser, as far as this reads it. */
interface PausingParser {
  paused: boolean;
  ptr: number | null;
  statusCode: number;
  socket: Socket;
  llhttp: { llhttp_resume(ptr: number): void };
  execute(chunk: Buffer): void;
  finish(): Error | null;
}

const NO_BYTES = Buffer.alloc(0);
const mended = new WeakSet<object>();

function isPausingParser(value: unknown): value is PausingParser {
  if (typeof value !== 'object' || value === null) return false;
  const parser = value as Partial<PausingParser>;
  return (
    typeof parser.paused === 'boolean' &&
    typeof parser.statusCode === 'number' &&
    typeof parser.execute === 'function' &&
    typeof parser.finish === 'function' &&
    typeof parser.llhttp?.llhttp_resume === 'function' &&
    /assert\(\s*!this\.paused\s*\)/.test(Function.prototype.toString.call(parser.finish))
  );
}

function unpause(parser: PausingParser): void {
  if (parser.ptr !== null) parser.llhttp.llhttp_resume(parser.ptr);
  parser.paused = false;
}

/**
 * Mends the `finish()` of the HTTP/1.1 parser reading `socket` (undici's, before 8) so that a close
 * while it is paused ends the answer instead of the process; once per parser, and nothing where
 * the socket has no such parser (HTTP/2, another client, a fixed undici).
 */
export function mendPausedFinish(socket: Socket): void {
  const key = Object.getOwnPropertySymbols(socket).find((symbol) => symbol.description === 'parser');
  if (key === undefined) return;
  const parser: unknown = (socket as unknown as Record<symbol, unknown>)[key];
  if (!isPausingParser(parser) || mended.has(parser)) return;
  mended.add(parser);
  const finish = parser.finish;
  parser.finish = function finishUnpaused(this: PausingParser): Error | null {
    if (this.paused && this.ptr !== null) {
      unpause(this);
      if (!this.socket.destroyed) {
        // The FIN: no bytes left on the socket. The parser runs on to the message's end where its
        // length came whole (undici then closes the connection, and pauses the parser again), or
        // hands the body's reader an empty chunk (paused again when its stream is full).
        this.execute(NO_BYTES);
        if (this.paused) unpause(this);
      }
      // undici clears the status once the message completed: nothing is left for finish() to end.
      if (this.statusCode === 0) return null;
    }
    return finish.call(this);
  };
}
