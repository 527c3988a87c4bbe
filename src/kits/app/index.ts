/**
 * `import … from 'candor/app'`: what an app behind a gateway needs so that deploys, idle
 * keep-alive closes and slow starts never turn into 502s. The README's "candor/app" section
 * shows it with node:http, Express, Fastify and Hono.
 */
export { type App, createApp, type ShutdownReport } from './app.ts';
export {
  answerFailure,
  type FailureAnswer,
  type FailureAnswerOptions,
  failureAnswer,
} from './failure-answer.ts';
export { KEEP_ALIVE_MARGIN, type KeepAliveTimeouts, keepAliveTimeoutsFor } from './keep-alive.ts';
export type { AppState } from './lifecycle.ts';
export {
  APP_DEFAULTS,
  type AppEvent,
  type AppOptions,
  type AppSettings,
  type ShutdownHook,
} from './options.ts';
export { propagationFromRequest } from './propagation-from-request.ts';
export { type ServeAppOptions, type ServedApp, serveApp } from './serve.ts';
