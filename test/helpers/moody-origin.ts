import net from 'node:net';
import { freePort } from './wait.ts';

/** How the origin meets the next requests: it answers, or it fails in one of the four shapes (or says 503). */
export type Mood = 'ok' | 'status_503' | 'hang' | 'reset' | 'garbage' | 'cut';

export interface MoodyOrigin {
  readonly url: string;
  readonly port: number;
  mood: Mood;
  /** The fields and body of a good answer (flat [name, value, …]; Content-Length is added). */
  answer: { status: number; fields: string[]; body: string };
  /** Every request head received, in order (the request line and fields, as text). */
  readonly heads: string[];
  /** A good answer waits this long (ms) before it goes out: concurrent requests meet one in flight. */
  delayMs: number;
  /** While set, a good answer waits for this promise (after delayMs): the test lets it go when its clients are all there. */
  held: Promise<void> | undefined;
  /** Answers 304 (with the answer's fields, no body) when the request's If-None-Match names this ETag. */
  notModifiedFor: string | undefined;
  /** Stops listening and closes every connection: from now on, connecting is refused. */
  stop(): Promise<void>;
}

/**
 * A keep-alive HTTP/1.1 origin on loopback whose answers can turn bad mid-test: a stored answer
 * first, then the failure the cache must stand in for. Raw sockets: the failures are real.
 */
export async function startMoodyOrigin(answer: MoodyOrigin['answer']): Promise<MoodyOrigin> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      let end = pending.indexOf('\r\n\r\n');
      while (end !== -1) {
        const head = pending.slice(0, end);
        pending = pending.slice(end + 4);
        origin.heads.push(head);
        respond(socket, head);
        end = pending.indexOf('\r\n\r\n');
      }
    });
  });
  const respond = (socket: net.Socket, head: string): void => {
    switch (origin.mood) {
      case 'hang':
        return;
      case 'reset':
        socket.resetAndDestroy();
        return;
      case 'garbage':
        socket.end('SSH-2.0-OpenSSH_9.6\r\n');
        return;
      case 'status_503':
        socket.write('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nRetry-After: 5\r\n\r\ndown');
        return;
    }
    const { status, fields, body } = origin.answer;
    if (origin.mood === 'cut') {
      // The good answer's head and half its body, then the connection closes: a body cut short.
      let cut = `HTTP/1.1 ${status} OK\r\n`;
      for (let i = 0; i < fields.length; i += 2) cut += `${fields[i]}: ${fields[i + 1]}\r\n`;
      socket.end(
        `${cut}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, body.length >> 1)}`,
      );
      return;
    }
    const tag = origin.notModifiedFor;
    const matched = tag !== undefined && new RegExp(`^if-none-match: *${tag}`, 'im').test(head);
    let text = `HTTP/1.1 ${matched ? 304 : status} ${matched ? 'Not Modified' : 'OK'}\r\n`;
    for (let i = 0; i < fields.length; i += 2) text += `${fields[i]}: ${fields[i + 1]}\r\n`;
    const out = matched ? `${text}\r\n` : `${text}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    const held = origin.held;
    const send = () => (held === undefined ? socket.write(out) : void held.then(() => socket.write(out)));
    if (origin.delayMs === 0) send();
    else setTimeout(send, origin.delayMs);
  };
  // Once stopped it must stay refused: not a port a listen(0) picked, which another test file's
  // server may be given as soon as this one lets it go.
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const origin: MoodyOrigin = {
    url: `http://127.0.0.1:${port}`,
    port,
    mood: 'ok',
    answer,
    heads: [],
    notModifiedFor: undefined,
    delayMs: 0,
    held: undefined,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  return origin;
}
