/** Node's flag that keeps SIGUSR1 from opening the inspector (Node has it since 22.14 and 23.7). */
const NO_INSPECTOR_SIGNAL = '--disable-sigusr1';

/**
 * Whether this Node has the flag, told by its version: `process.allowedNodeEnvironmentFlags`
 * would tell it too, but it makes a set of every flag Node knows and keeps it for the process's
 * life, 0.14 MB of the cluster primary's heap for this one answer.
 */
function hasTheFlag(): boolean {
  const [major, minor] = process.versions.node.split('.').map(Number);
  return major > 23 || (major === 23 && minor >= 7) || (major === 22 && minor >= 14);
}

/**
 * The flags of a Node process Candor starts (a worker, the config loader: here, beside the
 * loader), with SIGUSR1 kept from opening Node's inspector: in a process with no listener for
 * it, that signal opens a code-execution door on 127.0.0.1:9229. With the flag Node keeps the signal blocked, so the
 * process ignores it: one sent to the whole process group (logrotate's `kill -USR1` to a
 * group, `systemctl kill --signal=USR1` without `--kill-whom=main`) reaches these too.
 */
export function withoutInspectorSignal(execArgv: readonly string[]): string[] {
  const unknown = !hasTheFlag();
  return unknown || execArgv.includes(NO_INSPECTOR_SIGNAL)
    ? [...execArgv]
    : [...execArgv, NO_INSPECTOR_SIGNAL];
}
