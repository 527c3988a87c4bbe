import type { RouteStage } from '../stages/stage.ts';
import type { CorsPolicy } from './cors.ts';

/**
 * A route's CORS rules as a stage: the fields for an allowed origin and `Vary: Origin` on every
 * answer, the upstream's, the gateway's errors (a browser app reads its 502) and its own answers
 * (a preflight's 204 keeps its fields). It runs after the response header rules, so no rule can
 * undo what CORS says. The preflight itself is answered by access control (access-stage.ts).
 */
export function corsStage(cors: CorsPolicy): RouteStage {
  return {
    name: 'cors',
    timeoutMs: 0,
    failOpen: false,
    trusted: true,
    start: (request) => ({ editAnswer: cors.answerEdit(request.head.method, request.fields) }),
  };
}
