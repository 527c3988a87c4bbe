import { parseArgs } from 'node:util';
import { ConfigError, formatConfigProblems } from '../../core/config/config-error.ts';
import { loadConfigFile } from '../../core/config/load.ts';
import type { GatewayConfig, UpstreamProtocol } from '../../core/config/types.ts';
import { LONGEST_TIMER_MS, parseDuration, parseSize } from '../../core/config/units.ts';
import { authorityFault, TARGET } from '../../core/http1/request-rules.ts';
import { INVALID_VALUE, trimOws } from '../../core/http1/syntax.ts';
import { strictJson } from '../../core/printable.ts';
import { diagnose, OUTCOME_EXIT } from '../../kits/diagnose/diagnose.ts';
import { discoverForDiagnose } from '../../kits/diagnose/discovered.ts';
import { createTextPrinter, headingFor } from '../../kits/diagnose/render-text.ts';
import { type DiagnoseOptions, TargetError } from '../../kits/diagnose/targets.ts';
import { EXIT } from '../cluster/exit-codes.ts';
import { configRunBy } from './admin-client.ts';

export const DIAGNOSE_HELP = `Usage: candor diagnose TARGET [options]

Walks the hops to TARGET (DNS, TCP connect, TLS, request, response head, body), stops at
the first that fails, and says what Candor would answer and what fixes it.

TARGET is a URL (http://host:port/path), or with --config FILE an upstream name: every
target of that upstream is probed with the request and timeouts the gateway would use (an
upstream with \`discovery\` is asked of DNS first, and each address of the answer is probed).

Options:
  -c, --config FILE        the gateway's config (upstream names, timeouts, tls.ca)
      --path PATH          request target (default: the URL's path, or /)
      --host HOST          Host header (default: the target's host); for a URL, also the TLS
                           server name (SNI) and the name the certificate is checked against
  -X, --method METHOD      request method (default GET)
  -H, --header 'N: V'      an extra request header (repeatable)
      --connect-timeout D  DNS + TCP + TLS, e.g. 500ms (default: the upstream's, or 2s)
      --timeout D          response timeout, request to head (default: the upstream's, as each of
                           its attempts waits: retries.per_try_timeout when shorter; or 30s)
      --read-timeout D     longest silence inside the body (default: the upstream's, or 30s)
      --ca FILE            a CA (PEM) to trust besides the system's (default: the upstream's tls.ca)
      --protocol P         http1, h2c (HTTP/2 in the clear) or h2 (HTTP/2 over TLS, ALPN)
                           (default: the upstream's protocol, or http1); an HTTP/2 probe, or an
                           HTTP/1.1 one that meets HTTP/2, also says which of the two the target speaks
      --max-body SIZE      stop reading the body after SIZE, e.g. 64KiB (default 1MiB; not an error);
                           a body still coming once the read timeout has passed in all stops too
      --compare URL        send the same request through the gateway at URL too (alias --via),
                           to URL's path when it has one (the route's), else to the probe's
      --json               one JSON document instead of text

  candor diagnose --acme NAME --config FILE [--dns-server HOST:PORT] [--http-port PORT] [--json]
      why an order of a certificate for NAME fails, or would: the config, the last order
      (read from acme.storage), DNS (A/AAAA and CAA against the CA's identities), the CA's
      directory, and whether port 80 of NAME's address reaches this gateway (a probe token
      the running gateway answers). --dns-server asks that server instead of the system's;
      --http-port probes that port instead of 80 (RFC 8555 fixes 80; another is a test CA's).

Exit status: 0 a valid HTTP response below 500, 1 a valid response with the upstream's own
5xx, 2 a failure Candor would answer with 502/503/504 (or a body cut short), 64 bad command
line, 78 invalid config. With --acme: 0 when no check fails, 2 when one does.
`;

/** The options diagnose takes (DIAGNOSE_HELP names each). */
export const DIAGNOSE_OPTIONS = {
  config: { type: 'string', short: 'c' },
  path: { type: 'string' },
  host: { type: 'string' },
  method: { type: 'string', short: 'X' },
  header: { type: 'string', short: 'H', multiple: true },
  'connect-timeout': { type: 'string' },
  timeout: { type: 'string' },
  'read-timeout': { type: 'string' },
  ca: { type: 'string' },
  protocol: { type: 'string' },
  'max-body': { type: 'string' },
  compare: { type: 'string' },
  via: { type: 'string' },
  json: { type: 'boolean' },
  acme: { type: 'string' },
  'dns-server': { type: 'string' },
  'http-port': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `candor diagnose TARGET [options]`. Returns the exit status. */
export async function runDiagnoseCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseDiagnoseArgs(args);
  if (values.help) {
    process.stdout.write(DIAGNOSE_HELP);
    return EXIT.ok;
  }
  if (values.acme !== undefined) return diagnoseAcmeCommand(values.acme, values);
  if (positionals.length !== 1)
    return usage(
      positionals.length === 0
        ? 'diagnose needs a TARGET: a URL, or an upstream name with --config FILE'
        : `diagnose takes one TARGET, got ${positionals.length}`,
    );
  const config = await targetConfig(values.config, positionals[0]);
  if (typeof config === 'number') return config;
  let options: DiagnoseOptions;
  try {
    options = diagnoseOptions(positionals[0], config, values);
  } catch (err) {
    if (err instanceof TargetError) return usage(err.message);
    throw err;
  }
  return probe(options, values.json ?? false);
}

function parseDiagnoseArgs(args: readonly string[]) {
  return parseArgs({ args: [...args], options: DIAGNOSE_OPTIONS, allowPositionals: true, strict: true });
}

type DiagnoseValues = ReturnType<typeof parseDiagnoseArgs>['values'];

/**
 * The config to probe with (--config), an upstream with `discovery` asked of DNS first; or the
 * exit status when the config is invalid or the upstream has no target.
 */
async function targetConfig(
  path: string | undefined,
  target: string,
): Promise<GatewayConfig | undefined | number> {
  if (path === undefined) return undefined;
  let config: GatewayConfig;
  try {
    config = await loadConfigFile(configRunBy(path));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(formatConfigProblems(err.problems) + '\n');
    return EXIT.config;
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) return config;
  const found = await discoverForDiagnose(config, target);
  if ('failure' in found) {
    process.stderr.write(
      `candor: upstream "${target}" has no target to probe: ${found.failure} (the gateway would answer ${found.answered} until DNS answers)\n`,
    );
    return OUTCOME_EXIT.failure;
  }
  if (found.said !== '') process.stderr.write(`${found.said}\n`);
  return found.config;
}

/** The probe the flags ask for; a TargetError names a flag that is wrong. */
function diagnoseOptions(
  target: string,
  config: GatewayConfig | undefined,
  values: DiagnoseValues,
): DiagnoseOptions {
  const options: DiagnoseOptions = {
    target,
    config,
    path: values.path,
    host: values.host,
    method: values.method,
    headers: (values.header ?? []).map(parseHeader),
    connectTimeout: duration(values['connect-timeout'], '--connect-timeout'),
    answerTimeout: duration(values.timeout, '--timeout'),
    readTimeout: duration(values['read-timeout'], '--read-timeout'),
    ca: values.ca,
    maxBody: size(values['max-body']),
    via: values.compare ?? values.via,
    protocol: protocolOf(values.protocol),
  };
  if (options.path !== undefined && !options.path.startsWith('/'))
    throw new TargetError(`--path must start with "/", got "${options.path}"`);
  // The probe writes these as given: a request line or a Host the gateway refuses from any client
  // (request-rules.ts) is none it ever sends, and the upstream's 400 to it was judged healthy.
  if (options.path !== undefined && !TARGET.test(options.path))
    throw new TargetError(
      `--path "${options.path}" is not a request target the gateway sends (visible ASCII only): percent-encode a space as %20, and a character past ASCII`,
    );
  const badHost = options.host === undefined ? undefined : authorityFault(options.host);
  if (badHost !== undefined)
    throw new TargetError(`--host "${options.host}" is not a host[:port] (${badHost})`);
  if (options.method !== undefined && !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(options.method))
    throw new TargetError(`--method "${options.method}" is not a method name`);
  return options;
}

/**
 * Colours on a terminal, unless NO_COLOR has a value: no-color.org asks that an empty one
 * (`NO_COLOR=`, a variable cleared rather than unset) turn nothing off.
 */
function colorWanted(): boolean {
  return process.stdout.isTTY === true && !process.env.NO_COLOR;
}

/** Walks the hops, told as they go (or as one JSON document at the end); the exit status. */
async function probe(options: DiagnoseOptions, json: boolean): Promise<number> {
  const printer = createTextPrinter((text) => process.stdout.write(text), {
    color: colorWanted(),
  });
  try {
    const report = await diagnose(
      options,
      json
        ? {}
        : {
            ...printer.events,
            planned: (plans) =>
              printer.heading(
                headingFor(
                  options,
                  plans.filter((plan) => !plan.viaGateway),
                ),
              ),
          },
    );
    if (json) process.stdout.write(`${strictJson(JSON.stringify(report, null, 2))}\n`);
    else printer.finish(report);
    return report.exitCode;
  } catch (err) {
    if (err instanceof TargetError) return usage(err.message);
    throw err;
  }
}

function protocolOf(text: string | undefined): UpstreamProtocol | undefined {
  if (text === undefined) return undefined;
  if (text === 'http1' || text === 'h2c' || text === 'h2') return text;
  throw new TargetError(`--protocol must be http1, h2c or h2, got "${text}"`);
}

function parseHeader(text: string): [string, string] {
  const colon = text.indexOf(':');
  const name = colon === -1 ? '' : trimOws(text.slice(0, colon));
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name))
    throw new TargetError(`--header "${text}" is not "Name: value"`);
  if (name.toLowerCase() === 'host')
    throw new TargetError('set the Host header with --host HOST, not --header');
  // A length or coding with no body behind it: a healthy upstream waits for the body and is
  // judged too slow (504), or reads the next bytes as it.
  if (/^(content-length|transfer-encoding)$/i.test(name))
    throw new TargetError(
      `--header ${name}: the probe sends no body, so it frames none itself (Content-Length: 0 on a POST, PUT or PATCH); a ${name} of yours would promise one that never comes`,
    );
  const value = trimOws(text.slice(colon + 1));
  // A CR or LF would write a field of its own into the probe: a head the gateway never sends.
  if (INVALID_VALUE.test(value))
    throw new TargetError(
      `--header ${name}: its value has a control character (CR, LF, NUL…), which no field value may hold`,
    );
  return [name, value];
}

function duration(text: string | undefined, option: string): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseDuration(text);
  if (ms === undefined)
    throw new TargetError(`${option} needs a duration with its unit, like 500ms or 2s; got "${text}"`);
  if (ms === 0)
    throw new TargetError(`${option} needs a duration above zero, like 500ms or 2s; got "${text}"`);
  // Longer, Node arms the timer for 1 ms: the probe would judge "no answer" at once.
  if (ms > LONGEST_TIMER_MS)
    throw new TargetError(`${option} is longer than 596h, the longest a timer waits; got "${text}"`);
  return ms;
}

function size(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const bytes = parseSize(text);
  if (bytes === undefined)
    throw new TargetError(`--max-body needs a size, like 65536 or 64KiB; got "${text}"`);
  return bytes;
}

function usage(message: string): number {
  process.stderr.write(`candor: ${message}\nRun "candor diagnose --help" for usage.\n`);
  return EXIT.usage;
}

/** `candor diagnose --acme NAME --config FILE`: exit 0 when nothing would fail the order, 2 when a check fails. */
async function diagnoseAcmeCommand(
  name: string,
  values: { config?: string; json?: boolean; 'dns-server'?: string; 'http-port'?: string },
): Promise<number> {
  if (values.config === undefined) return usage("diagnose --acme needs the gateway's --config FILE");
  const httpPort = values['http-port'] === undefined ? undefined : Number(values['http-port']);
  if (httpPort !== undefined && !(Number.isInteger(httpPort) && httpPort > 0 && httpPort < 65536))
    return usage(`--http-port must be a port number, got "${values['http-port']}"`);
  let config: GatewayConfig;
  try {
    config = await loadConfigFile(configRunBy(values.config));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(formatConfigProblems(err.problems) + '\n');
    return EXIT.config;
  }
  const { acmeDiagnosisText, diagnoseAcme } = await import('../acme/diagnose-acme.ts');
  const diagnosis = await diagnoseAcme(config, name, { dnsServer: values['dns-server'], httpPort });
  process.stdout.write(
    values.json
      ? `${strictJson(JSON.stringify(diagnosis, null, 2))}\n`
      : acmeDiagnosisText(diagnosis, colorWanted()),
  );
  // 128 + SIGINT, as a shell reports a command Ctrl-C ended (the probe's record removed first).
  if (diagnosis.interrupted) return 130;
  return diagnosis.ok ? EXIT.ok : OUTCOME_EXIT.failure;
}
