/**
 * The cluster primary's request/answer layer over each worker's IPC channel: one request sent
 * to every live worker, each answer matched to it by id, in a bounded time (a worker that does
 * not answer, or exits first, is told as such). ClusterControl asks through it.
 */
import cluster, { type Worker } from 'node:cluster';
import { type FromWorker, isFromWorker, type ToWorker } from '../gateway/ipc-protocol.ts';

/** How long a worker has to confirm a swap or a change, or answer a status request. */
export const WORKER_ANSWER_MS = 5_000;

/**
 * How long the primary still listens for the count of a purge it answered as under way (a worker
 * removing a large cache.dir's files), to log it: then the worker is taken for stuck.
 */
const LATE_PURGE_MS = 10 * 60_000;

/** A worker's answer to the primary's request: undefined if none came in time, or it exited first (`exit`). */
export interface WorkerAnswer {
  readonly worker: number;
  readonly pid: number | undefined;
  readonly answer: FromWorker | undefined;
  readonly exit?: number | string;
  /** It said it took the request (a purge in effect) before its answer, which had not come. */
  readonly taken?: boolean;
}

/** A request asked of every worker that says first that it took it (a purge), then answers. */
export interface TakenFirst {
  /** How long after taking it each worker has to answer (0: none, the answer is told as under way). */
  readonly wait: number;
  /** An answer that came after the wait, from a worker that had taken the request. */
  readonly late: (worker: number, answer: FromWorker | undefined) => void;
}

export class WorkerRequests {
  #nextId = 1;
  readonly #pending = new Map<number, (answer: FromWorker) => void>();

  constructor() {
    cluster.on('message', (_worker, message) => {
      // Each handler drops its own entry: a worker's "taken" comes before its answer (#askAll).
      if (isFromWorker(message)) this.#pending.get(message.id)?.(message);
    });
  }

  /**
   * Sends one request to every live worker; each answer, or undefined for one that did not
   * answer in time or exited first (`exit`: its code or signal).
   */
  askAll(request: (id: number) => ToWorker, takenFirst?: TakenFirst): Promise<WorkerAnswer[]> {
    const workers = Object.values(cluster.workers ?? {}).filter(
      (w): w is Worker => w?.isConnected() === true,
    );
    return Promise.all(
      workers.map(
        (worker) =>
          new Promise<WorkerAnswer>((resolve) => {
            const id = this.#nextId++;
            let taken = false;
            const done = (answer: FromWorker | undefined, exit?: number | string) => {
              clearTimeout(timer);
              worker.off('exit', onExit);
              this.#pending.delete(id);
              if (answer === undefined && exit === undefined && taken && takenFirst !== undefined)
                this.#listenLate(id, worker, takenFirst.late);
              resolve({
                worker: worker.id,
                pid: worker.process.pid,
                answer,
                ...(exit === undefined ? {} : { exit }),
                ...(taken ? { taken } : {}),
              });
            };
            const onExit = (code: number, signal: string | null) => done(undefined, signal ?? code);
            let timer = setTimeout(() => done(undefined), WORKER_ANSWER_MS);
            this.#pending.set(id, (answer) => {
              if (answer.candor !== 'purge_taken') return done(answer);
              if (takenFirst === undefined) return;
              taken = true;
              clearTimeout(timer);
              // No wait: told as under way at once, whether or not its count follows in this read.
              if (takenFirst.wait === 0) return done(undefined);
              timer = setTimeout(() => done(undefined), takenFirst.wait);
            });
            worker.once('exit', onExit);
            worker.send(request(id));
          }),
      ),
    );
  }

  /** The answer of a worker that took request `id` and was told as under way: to `late`, once. */
  #listenLate(
    id: number,
    worker: Worker,
    late: (worker: number, answer: FromWorker | undefined) => void,
  ): void {
    const over = (answer: FromWorker | undefined) => {
      clearTimeout(cap);
      worker.off('exit', gone);
      this.#pending.delete(id);
      late(worker.id, answer);
    };
    const gone = () => over(undefined);
    const cap = setTimeout(gone, LATE_PURGE_MS).unref();
    worker.once('exit', gone);
    this.#pending.set(id, over);
  }
}
