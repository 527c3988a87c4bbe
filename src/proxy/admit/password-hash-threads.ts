import { availableParallelism } from 'node:os';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { workersOfThisGateway } from '../../core/limits/worker-share.ts';
import type { HashAnswer, HashAsk } from './password-hash-thread.ts';

// The checkout runs the thread's .ts as it is; the installed package runs the compiled .js.
const THREAD = new URL(`./password-hash-thread${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

/**
 * A thread's heap: bcryptjs and SHA-crypt need a few MiB; the bound keeps a thread that went
 * wrong from taking the worker's memory.
 */
const THREAD_HEAP_MB = 16;

/**
 * How many hash threads one worker process runs: half the machine's cores, split among the
 * gateway's workers, at least one each. A flood of bad logins then takes at most about half the
 * cores (one thread per worker where there are more workers than half the cores), and the rest
 * go on serving requests, instead of every password hash running on a worker's event loop.
 */
export function hashThreadsFor(cores: number, workers: number): number {
  return Math.max(1, Math.floor(cores / 2 / Math.max(1, workers)));
}

/** This process's number of hash threads (the bound of password-checks.ts runs that many checks at once). */
export const PASSWORD_HASH_THREADS = hashThreadsFor(availableParallelism(), workersOfThisGateway());

interface Task {
  readonly ask: HashAsk;
  readonly done: (matches: boolean) => void;
  readonly fail: (err: Error) => void;
}

/**
 * A fixed pool of threads that check passwords, started on the first check (a gateway without
 * Basic auth starts none) and kept: a thread takes tens of milliseconds to start, and a login
 * must not pay that. Its callers bound the checks handed to it at once (password-checks.ts) to
 * its size, so a task finds a free thread; one that does not (a thread died and is being
 * replaced) waits in `#pending`, which holds no more than that bound.
 */
export class PasswordHashThreads {
  readonly #size: number;
  readonly #idle: Worker[] = [];
  readonly #busy = new Map<Worker, Task>();
  readonly #pending: Task[] = [];

  constructor(size: number) {
    this.#size = size;
  }

  /** Whether `password` makes `hash`, checked on one of the pool's threads. */
  matches(password: string, hash: string): Promise<boolean> {
    return new Promise((done, fail) => {
      this.#pending.push({ ask: { password, hash }, done, fail });
      this.#dispatch();
    });
  }

  #dispatch(): void {
    while (this.#pending.length > 0) {
      const thread = this.#idle.pop() ?? this.#start();
      if (thread === undefined) return;
      const task = this.#pending.shift() as Task;
      this.#busy.set(thread, task);
      thread.ref();
      thread.postMessage(task.ask);
    }
  }

  /** A new thread, when the pool has room for one. */
  #start(): Worker | undefined {
    if (this.#idle.length + this.#busy.size >= this.#size) return undefined;
    const thread = new Worker(THREAD, { resourceLimits: { maxOldGenerationSizeMb: THREAD_HEAP_MB } });
    thread.on('message', (answer: HashAnswer) => {
      const task = this.#busy.get(thread);
      this.#busy.delete(thread);
      this.#idle.push(thread);
      thread.unref();
      task?.done(answer);
      this.#dispatch();
    });
    // A thread that died (its heap bound, a bug) fails its check and is replaced by the next one.
    const lost = (err: Error) => {
      const task = this.#busy.get(thread);
      this.#busy.delete(thread);
      const at = this.#idle.indexOf(thread);
      if (at !== -1) this.#idle.splice(at, 1);
      task?.fail(err);
      this.#dispatch();
    };
    thread.on('error', lost);
    thread.on('exit', (code) => lost(new Error(`password hash thread exited (code ${code})`)));
    // An idle thread holds no process open, a busy one does (ref'd by #dispatch, unref'd here
    // after the listeners: adding a 'message' listener takes the reference again).
    thread.unref();
    return thread;
  }
}

/** The worker's one pool (a module is loaded once per worker process). */
export const passwordHashThreads = new PasswordHashThreads(PASSWORD_HASH_THREADS);
