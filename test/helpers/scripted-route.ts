import { afterEach } from 'node:test';
import { type Script, type ScriptedUpstream, scriptedUpstream } from './scripted-upstream.ts';
import { startTestGateway, type TestGateway } from './test-gateway.ts';

/**
 * For a file whose tests each put scripted upstreams behind one route: the upstreams and the
 * gateway a test starts, and whatever else it hands to `closeAfter`, are closed after it, the
 * last first (registered as the file's afterEach when called).
 */
export function scriptedRoute(): {
  /** A scripted upstream (scripted-upstream.ts), closed after the test. */
  upstreamOf(script: Script): Promise<ScriptedUpstream>;
  /** A gateway with one route to upstream `app` over `targets` (round robin, in order), and `policy` lines under it. */
  gatewayTo(targets: readonly string[], policy: string): Promise<TestGateway>;
  closeAfter(close: () => Promise<unknown>): void;
} {
  const closing: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const close of closing.splice(0).reverse()) await close();
  });
  const closeAfter = (close: () => Promise<unknown>) => {
    closing.push(close);
  };
  return {
    closeAfter,
    async upstreamOf(script) {
      const up = await scriptedUpstream(script);
      closeAfter(() => up.close());
      return up;
    },
    async gatewayTo(targets, policy) {
      const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    balancer: round_robin
    targets:
${targets.map((url) => `      - url: ${url}`).join('\n')}
${policy}
`);
      closeAfter(() => gw.close());
      return gw;
    },
  };
}
