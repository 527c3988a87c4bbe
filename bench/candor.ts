/** Candor itself, started from this repository with a config generated for the run. */
import { join } from 'node:path';
import { REPO_DIR } from './paths.ts';
import { candorYaml, type SystemContext, type SystemDefinition, startCandor } from './systems.ts';

/** The YAML config of a benchmark run: `/fail` to the refused port, the rest to the origin. */
export function candorConfig(context: SystemContext): string {
  return candorYaml(context, {
    routes: `  - match: { path: /fail }
    upstream: dead
  - match: { path: / }
    upstream: origin
`,
    upstreams: `  dead:
    targets: [ { url: "http://127.0.0.1:${context.deadPort}" } ]
`,
    more: tracingSection(),
  });
}

/**
 * CANDOR_BENCH_OTLP=http://127.0.0.1:4318/v1/traces measures Candor with span export on,
 * every trace recorded, posted to that endpoint (a collector, or any sink that answers 200).
 */
function tracingSection(): string {
  const endpoint = process.env.CANDOR_BENCH_OTLP;
  return endpoint ? `tracing:\n  otlp_endpoint: ${endpoint}\n  sample_ratio: 1\n` : '';
}

/** Candor from the checkout at `repoDir` (its bin/candor.js, with its own sources). */
function candorFrom(repoDir: string) {
  return async (context: SystemContext) => {
    const proc = await startCandor(context, candorConfig(context), { workers: context.workers, repoDir });
    return { port: context.port, process: proc, accessLog: join(context.dir, 'access.log') };
  };
}

export const candor: SystemDefinition = {
  id: 'candor',
  label: 'Candor',
  group: 'candor',
  setup: `bin/candor.js serve, pool of up to 1024 connections to the origin (the peers keep 256 idle, open as many as asked); access log (level info) to a file${
    process.env.CANDOR_BENCH_OTLP
      ? '; spans of every request exported over OTLP/HTTP (CANDOR_BENCH_OTLP)'
      : ''
  }`,
  start: candorFrom(REPO_DIR),
};

/**
 * CANDOR_BENCH_REF=DIR adds `candor-ref`: Candor from another checkout (an older release, e.g.
 * `git worktree add /tmp/candor-0.1.0 54447c2 && (cd /tmp/candor-0.1.0 && npm ci)`), with the
 * same generated config, measured in the same run as this one.
 */
export const candorRef: SystemDefinition | undefined = process.env.CANDOR_BENCH_REF
  ? {
      id: 'candor-ref',
      label: `Candor (${process.env.CANDOR_BENCH_REF})`,
      group: 'candor',
      setup: `bin/candor.js serve of the checkout in CANDOR_BENCH_REF (${process.env.CANDOR_BENCH_REF}), configured as Candor`,
      start: candorFrom(process.env.CANDOR_BENCH_REF),
    }
  : undefined;
