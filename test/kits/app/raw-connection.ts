/** One raw client connection kept open across requests, to see exactly what the app sends and when it closes. */
import net from 'node:net';
import { waitUntil } from '../../helpers/wait.ts';

export interface RawConnection {
  /** Sends a GET (HTTP/1.1, keep-alive unless the app says otherwise), with extra header fields. */
  send(path: string, headers?: Record<string, string>): void;
  /** Everything received so far. */
  text(): string;
  /** Waits until `count` complete responses (with Content-Length bodies) have arrived. */
  responses(count: number, timeoutMs?: number): Promise<string[]>;
  /** Whether the app closed (or reset) the connection. */
  readonly isClosed: () => boolean;
  /** Resolves when the connection closes. */
  readonly closed: Promise<void>;
  destroy(): void;
}

function splitResponses(text: string): string[] {
  const found: string[] = [];
  let rest = text;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end === -1) return found;
    const length = Number(/\r\ncontent-length: (\d+)/i.exec(rest.slice(0, end))?.[1] ?? 0);
    if (rest.length < end + 4 + length) return found;
    found.push(rest.slice(0, end + 4 + length));
    rest = rest.slice(end + 4 + length);
  }
}

export async function rawConnection(port: number): Promise<RawConnection> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let text = '';
  let closed = false;
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString('latin1');
  });
  socket.on('error', () => {});
  const closedPromise = new Promise<void>((resolve) =>
    socket.once('close', () => {
      closed = true;
      resolve();
    }),
  );
  return {
    send: (path, headers = {}) =>
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: app\r\n${Object.entries(headers)
          .map(([name, value]) => `${name}: ${value}\r\n`)
          .join('')}\r\n`,
      ),
    text: () => text,
    responses: async (count, timeoutMs = 5000) => {
      await waitUntil(`${count} responses`, () => splitResponses(text).length >= count, timeoutMs);
      return splitResponses(text);
    },
    isClosed: () => closed,
    closed: closedPromise,
    destroy: () => socket.destroy(),
  };
}
