/**
 * Whether a listener's host keeps it to this machine: `localhost` or a loopback address
 * (`127.0.0.0/8`, `::1`). A wildcard (`0.0.0.0`, `::`), another address or a name is not.
 * node:net through process.getBuiltinModule: the primary loads this and keeps lean
 * (test/server/cli/lean-processes.test.ts).
 */
export function isLoopbackHost(host: string): boolean {
  const { isIP } = process.getBuiltinModule('node:net');
  return host === 'localhost' || (isIP(host) !== 0 && /^(127\.|::1$)/.test(host));
}
