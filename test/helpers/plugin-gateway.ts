/**
 * The plugin tests' usual gateway: one route named as its plugin, every path to the fault kit's
 * echo upstream `app`, through that one plugin given in the process (its `module` never read).
 */
import type { Fault } from '../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../src/kits/fault-kit/http-servers.ts';
import type { Plugin } from '../../src/proxy/stages/plugin-api.ts';
import { startTestGateway, type TestGateway } from './test-gateway.ts';

/** `name`'s route through `plugin` to a new echo upstream (`listener`: the listener's extra YAML, startTestGateway's); the caller closes both. */
export async function startPluginGateway(
  name: string,
  plugin: Plugin,
  listener = '',
): Promise<{ readonly app: Fault; readonly gw: TestGateway }> {
  const app = await startEcho();
  try {
    const gw = await startTestGateway(
      `plugins:
  ${name}: { module: /nonexistent/${name}.ts }
routes:
  - { name: ${name}, match: { path: / }, upstream: app, plugins: [${name}] }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
`,
      {},
      listener,
      { plugins: { [name]: plugin } },
    );
    return { app, gw };
  } catch (err) {
    await app.close();
    throw err;
  }
}
