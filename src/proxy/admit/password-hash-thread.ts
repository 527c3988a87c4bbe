/**
 * A thread of the password hash pool (password-hash-threads.ts): it checks one password against
 * one hash at a time and answers whether they match, its CPU taken from no request's event loop.
 */
import { parentPort } from 'node:worker_threads';
import { passwordMatches } from './password-match.ts';

/** What the pool asks: one password against one hash. */
export interface HashAsk {
  readonly password: string;
  readonly hash: string;
}

/** What the thread answers: whether they match. */
export type HashAnswer = boolean;

parentPort?.on('message', ({ password, hash }: HashAsk) => {
  const answer: HashAnswer = passwordMatches(password, hash);
  parentPort?.postMessage(answer);
});
