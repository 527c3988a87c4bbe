/**
 * Upstreams that accept and then take their time: the "slow" shape, and stalls after the head.
 */
import type { Fault } from './fault.ts';
import { readRequest, startRawFault } from './raw-server.ts';

/** slow / http_response_timeout: accepts, reads everything, never answers. */
export function startBlackhole(): Promise<Fault> {
  return startRawFault(() => {});
}

interface HeadThenStallOptions {
  /** Content-Length announced (default 100). */
  contentLength?: number;
  /** Body bytes sent before stalling (default 10). */
  sentBytes?: number;
}

/**
 * slow after the head / connection_read_timeout (logged; the status is already 200): answers
 * `200 OK` with Content-Length 100, sends 10 body bytes, then stalls forever.
 */
export function startHeadThenStall(options: HeadThenStallOptions = {}): Promise<Fault> {
  const contentLength = options.contentLength ?? 100;
  const sentBytes = options.sentBytes ?? 10;
  return startRawFault(async (connection) => {
    await readRequest(connection);
    await connection.write(
      `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${contentLength}\r\n\r\n` +
        'x'.repeat(sentBytes),
    );
  });
}

/** slow after the head / connection_read_timeout (logged): a chunked 200 with one chunk, then a stall. */
export function startStallChunked(): Promise<Fault> {
  return startRawFault(async (connection) => {
    await readRequest(connection);
    await connection.write(
      'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n',
    );
  });
}

interface SlowReaderOptions {
  /** Bytes taken from the socket per tick (default 1024). */
  bytesPerTick?: number;
  /** Milliseconds between ticks (default 10). */
  tickMs?: number;
  /** Readable buffer of the socket (default 1024), so the kernel window closes soon. */
  highWaterMark?: number;
}

interface SlowReaderFault extends Fault {
  /** Request bytes (head and body) the server has taken from its sockets so far. */
  readonly bytesConsumed: number;
}

/**
 * Backpressure (not a failure row): reads the request slowly, `bytesPerTick` every `tickMs`,
 * then answers 200 with `{"bytes": <body length>}`. Keep-alive.
 */
export async function startSlowReader(options: SlowReaderOptions = {}): Promise<SlowReaderFault> {
  const bytesPerTick = options.bytesPerTick ?? 1024;
  const tickMs = options.tickMs ?? 10;
  let bytesConsumed = 0;
  const fault = await startRawFault(
    async (connection) => {
      const timer = setInterval(() => {
        bytesConsumed += connection.read(bytesPerTick)?.length ?? 0;
      }, tickMs);
      connection.socket.on('close', () => clearInterval(timer));
      for (;;) {
        const request = await readRequest(connection);
        const body = JSON.stringify({ bytes: request.bodyLength });
        await connection.write(
          `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
        );
      }
    },
    { manualRead: true, highWaterMark: options.highWaterMark ?? 1024 },
  );
  return Object.defineProperty(fault, 'bytesConsumed', { get: () => bytesConsumed }) as SlowReaderFault;
}
