/**
 * `candor explain --proxy-status VALUE` and `--error TYPE`: a 502's Proxy-Status (from curl -i,
 * a browser's devtools, a customer's ticket) or a type name explained without any log.
 */
import { printable, strictJson } from '../../core/printable.ts';
import {
  explainMembers,
  explainType,
  readPasted,
  TYPE_NAME,
} from '../../kits/explain/proxy-status-explain.ts';
import { renderMembers, renderTypes } from '../../kits/explain/render-proxy-status.ts';
import { EXIT } from '../cluster/exit-codes.ts';

export interface ValueOptions {
  readonly proxyStatus: string | undefined;
  readonly errors: readonly string[] | undefined;
  readonly json: boolean;
  /** The options and LOGs that read logs, given with it: a usage error. */
  readonly logArgs: readonly string[];
}

/** Explains the value or the types given; returns the exit code. */
export function runExplainValue(options: ValueOptions, usage: (message: string) => number): number {
  const { proxyStatus, errors, json } = options;
  const flag = proxyStatus !== undefined ? '--proxy-status' : '--error';
  if (proxyStatus !== undefined && errors !== undefined)
    return usage('give --proxy-status or --error, not both (a Proxy-Status value names its types itself)');
  if (options.logArgs.length > 0)
    return usage(`${flag} explains a value, not logs: ${options.logArgs.join(', ')} cannot go with it`);
  if (proxyStatus === '' || errors?.includes(''))
    return usage(`${flag} is "", no value (a shell variable left empty?)`);
  if (errors !== undefined) {
    const bad = errors.find((name) => !TYPE_NAME.test(name));
    if (bad !== undefined)
      return data(`${JSON.stringify(bad)} is no error type name (one word such as connection_refused)`);
    const types = errors.map(explainType);
    process.stdout.write(
      json ? `${strictJson(JSON.stringify({ errors: types }, null, 2))}\n` : renderTypes(types),
    );
    return EXIT.ok;
  }
  const read = readPasted(proxyStatus ?? '');
  if ('problem' in read)
    return data(
      `this Proxy-Status value cannot be read: ${read.problem} (RFC 9651 has a reader ignore the whole field)\n  ${printable(proxyStatus ?? '', true)}`,
    );
  const members = explainMembers(read.members);
  process.stdout.write(
    json
      ? `${strictJson(JSON.stringify({ proxyStatus: read.value, members }, null, 2))}\n`
      : renderMembers(members),
  );
  return EXIT.ok;
}

function data(message: string): number {
  process.stderr.write(`candor: ${message}\n`);
  return EXIT.data;
}
