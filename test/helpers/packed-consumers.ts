/** The programs test/package/pack.test.ts type-checks and runs against the installed package. */

/** Right use of the library: type-checked, then run by Node (the consumer's own types stripped, candor's JavaScript). */
export const CONSUMER = `import { type ConfigObject, ConfigError, configFromObject, type Gateway, loadConfigFile, startGateway } from 'candor';

const config: ConfigObject = {
  name: 'library-edge',
  listen: [{ address: '127.0.0.1:0' }],
  routes: [{ match: { path: '/' }, upstream: 'app' }],
  upstreams: { app: { targets: [{ url: '\${UPSTREAM_URL}' }], timeouts: { response: '5s' } } },
  log: { level: 'silent' },
};
const gateway: Gateway = await startGateway(configFromObject(config));
const port: number = gateway.listeners[0].port();
const answer = await fetch(\`http://127.0.0.1:\${port}/from-library\`);
const result = { status: answer.status, body: await answer.text(), via: answer.headers.get('via') };
await gateway.close();

let problems: string[] = [];
try {
  await loadConfigFile(process.argv[2]);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  problems = error.problems.map((problem) => \`\${problem.line} \${problem.path}\`);
}
console.log(JSON.stringify({ ...result, problems }));
`;

/** Wrong uses: each line must fail to type-check (an unused @ts-expect-error fails tsc). */
export const MISUSE = `import { configFromObject, type Gateway, loadConfigFile, parseConfig, startGateway } from 'candor';
import { createApp } from 'candor/app';
// @ts-expect-error: internals are not part of the API
import { createRuntime } from 'candor';
// @ts-expect-error: nor reachable by a deep import
import { runServe } from 'candor/dist/server/cli/serve.js';

// @ts-expect-error: startGateway takes a validated config, not a file name
await startGateway('candor.yaml');
// @ts-expect-error: a listener is a mapping with an address, not a port number
configFromObject({ listen: [8080], routes: [{ match: { path: '/' }, upstream: 'app' }], upstreams: {} });
configFromObject({
  listen: [{ address: '127.0.0.1:0' }],
  routes: [{ match: { path: '/' }, upstream: 'app' }],
  // @ts-expect-error: a misspelt key ("upstreams")
  upstream: {},
});
// @ts-expect-error: candor/app's times are milliseconds, not duration strings
createApp({ shutdown: { delay: '15s' } });
// @ts-expect-error: the readiness check is a function, not a flag
createApp({ ready: true });
// @ts-expect-error: parseConfig needs the source the text came from
parseConfig('listen: []');
// @ts-expect-error: loading a file gives a config, not a running gateway
const gateway: Gateway = await loadConfigFile('candor.yaml');
export { createRuntime, gateway, runServe };
`;

/** `candor/client` as an app uses it: type-checked (a misuse must fail), then run against the upstream. */
export const CLIENT_CONSUMER = `import { type AttemptReport, CLIENT_DEFAULTS, createFetch, runWithPropagation, UpstreamError } from 'candor/client';

const failed: AttemptReport[] = [];
const api: typeof fetch = createFetch({ attempts: 2, deadline: 5000, onAttemptFailed: (r) => failed.push(r) });
const answer = await runWithPropagation({ requestId: 'from-packed-client' }, () => api(\`\${process.env.UPSTREAM_URL}/from-client\`));
let code: string | undefined;
try {
  await createFetch({ attempts: 1 })(\`\${process.env.REFUSED_URL}/nothing\`);
} catch (error) {
  if (error instanceof UpstreamError) code = error.code;
}
let misuse: string | undefined;
try {
  // @ts-expect-error: attempts is a number (and a bad option throws at run time too)
  createFetch({ attempts: '3' });
} catch (error) {
  misuse = (error as Error).name;
}
console.log(JSON.stringify({ status: answer.status, body: await answer.text(), failed: failed.length, code, misuse, attempts: CLIENT_DEFAULTS.attempts }));
`;

/** `candor/app` from the installed package: the probes of a server it runs, then its shutdown. */
export const APP_CONSUMER = `import { type AppEvent, type ShutdownReport, serveApp } from 'candor/app';

const events: string[] = [];
const served = await serveApp((_req, res) => res.end('app\\n'), {
  host: '127.0.0.1',
  ready: async () => true,
  shutdown: { delay: 0, timeout: 2_000 },
  signals: [],
  exit: false,
  log: (event: AppEvent) => events.push(event.msg),
});
await served.ready;
const ready = await fetch(\`http://127.0.0.1:\${served.port}/ready\`);
const app = await fetch(\`http://127.0.0.1:\${served.port}/\`);
const report: ShutdownReport = await served.app.shutdown('done');
console.log(
  JSON.stringify({
    ready: ready.status,
    keepAlive: ready.headers.get('keep-alive'),
    app: await app.text(),
    forced: report.forced,
    events,
  }),
);
`;
