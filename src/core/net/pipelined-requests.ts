import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { peerOf } from './peer-of.ts';

/**
 * Requests one connection of a node:http listener of the gateway's own (the admin API, the
 * metrics listener) may have waiting for their answers. node:http parses every request of what it
 * read and answers each at once, queueing the answers behind the first until the client reads:
 * 2,000 `GET /` in one 80 KB write, never read, held 2,000 answers (10 MB) in the primary, and
 * twenty such connections took it from 70 MB to 400 MB with no token at all (with the token,
 * `GET /events`' 100 KB answers, the probes went unanswered; on the metrics listener each
 * `GET /metrics` asks every worker for its registry). nginx and HAProxy read a connection's next
 * request once the last is answered; curl, the CLI, browsers and Prometheus never pipeline. Past
 * this many the connection is closed, the rest unanswered (a client that pipelines must be ready
 * to send them again, RFC 9112 §9.3.2), and no more of it is read.
 */
const MAX_PIPELINED = 8;

/** A connection, with the count of its requests that wait for their answers to be written. */
type CountedSocket = Socket & { answersWaiting?: number };

/**
 * Whether this request is one too many on its connection, which is then closed (`closed` hears
 * of it, with the client's address and how many were waiting): see MAX_PIPELINED. Called first
 * in the listener's request handler; true: answer nothing.
 */
export function pipelineRefused(
  req: IncomingMessage,
  res: ServerResponse,
  closed: (who: string, pipelined: number) => void,
): boolean {
  const socket: CountedSocket = req.socket;
  // The rest of what was read with a request past the bound: nothing more is answered.
  if (socket.destroyed) return true;
  const count = (socket.answersWaiting ?? 0) + 1;
  if (count > MAX_PIPELINED) {
    closed(peerOf(socket), count);
    socket.destroy();
    return true;
  }
  socket.answersWaiting = count;
  res.once('close', () => {
    socket.answersWaiting = (socket.answersWaiting ?? 1) - 1;
  });
  return false;
}
