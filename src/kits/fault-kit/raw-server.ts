/**
 * The raw-TCP base of most faults: a node:net server that records and parses whatever arrives
 * and runs a small script per connection (what to send, when to stall, how to hang up). Tests
 * can use `startRawFault` directly for a one-off misbehaviour.
 */
import { createServer, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ConnectionRecord, type Fault, FaultRecorder, listenLoopback } from './fault.ts';
import type { ReceivedRequest } from './recorded-request.ts';
import { RequestStreamParser } from './request-parser.ts';

/** What a raw fault's script gets for each accepted connection. */
export interface RawConnection {
  readonly socket: Socket;
  readonly record: ConnectionRecord;
  /**
   * The next request on this connection (in order; each call moves on), once its head arrived,
   * or with `{ body: true }` its whole body. Rejects if the connection or the server closes first.
   */
  nextRequest(options?: { body?: boolean }): Promise<ReceivedRequest>;
  /**
   * With `manualRead`: takes up to `maxBytes` from the socket's buffer (recording and parsing them),
   * or returns null if nothing is buffered yet (and asks for more). Unused otherwise.
   */
  read(maxBytes: number): Buffer | null;
  /** Writes and resolves once the bytes were handed to the kernel. */
  write(data: string | Buffer): Promise<void>;
  /** Sends FIN after any pending bytes. */
  end(data?: string | Buffer): Promise<void>;
  /**
   * Sends RST. Bytes written before are flushed first and given `afterMs` (default 20) to reach
   * the peer, because an RST discards whatever is still queued.
   */
  reset(afterMs?: number): Promise<void>;
}

type RawScript = (connection: RawConnection) => void | Promise<void>;

interface RawFaultOptions {
  /** Don't read the socket automatically: the script reads it with `connection.read()`, e.g. slowly. */
  manualRead?: boolean;
  /** Readable buffer size of accepted sockets (small values make backpressure show sooner). */
  highWaterMark?: number;
}

/** Starts a raw-TCP fault running `script` on every connection; its URL is http://. */
export async function startRawFault(script: RawScript, options: RawFaultOptions = {}): Promise<Fault> {
  const recorder = new FaultRecorder();
  const server = createServer({
    allowHalfOpen: true, // the script decides when to close, not the peer's FIN
    highWaterMark: options.highWaterMark,
    pauseOnConnect: options.manualRead,
  });
  recorder.adopt(server);
  server.on('connection', (socket) => {
    const record = recorder.track(socket);
    const requests: ReceivedRequest[] = [];
    const parser = new RequestStreamParser((head) => {
      const request = recorder.addRequest({ ...head, connection: record.index });
      requests.push(request);
      return request;
    });
    const feed = (chunk: Buffer): void => {
      record.captureBytes(chunk);
      parser.push(chunk);
    };
    if (!options.manualRead) socket.on('data', feed);
    let cursor = 0;
    const connection: RawConnection = {
      socket,
      record,
      nextRequest: ({ body = false } = {}) => {
        const at = cursor++;
        return recorder.waitFor(
          () => {
            const request = requests[at];
            if (request && (!body || request.bodyComplete)) return request;
            if (record.closed || record.peerEnd)
              throw new Error('fault kit: connection ended before the request');
            return undefined;
          },
          `request #${at + 1} on connection #${record.index}`,
          Number.POSITIVE_INFINITY,
        );
      },
      read: (maxBytes) => {
        if (socket.readableLength === 0) {
          socket.read(0); // asks the stream to fill its buffer from the kernel
          return null;
        }
        const chunk: Buffer | null = socket.read(Math.min(maxBytes, socket.readableLength));
        if (chunk) feed(chunk);
        return chunk;
      },
      write: (data) =>
        new Promise((resolve, reject) => {
          socket.write(data, (error) => (error ? reject(error) : resolve()));
        }),
      end: (data) =>
        new Promise((resolve) => {
          if (data === undefined) socket.end(resolve);
          else socket.end(data, resolve);
        }),
      reset: async (afterMs = 20) => {
        await new Promise<void>((resolve) => socket.write('', () => resolve()));
        if (afterMs > 0) await sleep(afterMs);
        if (!socket.destroyed) socket.resetAndDestroy();
      },
    };
    Promise.resolve()
      .then(() => script(connection))
      .catch((error: unknown) => {
        // A peer that went away (or a server that closed) ends the script; anything else is a kit bug.
        if (socket.destroyed || record.closed || record.peerEnd || recorder.isClosed) return;
        console.error('fault kit: script failed', error);
        socket.destroy();
      });
  });
  const port = await listenLoopback(server);
  return recorder.handle(`http://127.0.0.1:${port}`, port);
}

/** Reads the next whole request on the connection, for scripts that answer after the upload. */
export function readRequest(connection: RawConnection): Promise<ReceivedRequest> {
  return connection.nextRequest({ body: true });
}
