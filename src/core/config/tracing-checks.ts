/**
 * The OpenTelemetry SDK is an optional peer dependency (package.json's peerDependenciesMeta):
 * an install without tracing goes without its 28 MB, and the gateway loads it only when the
 * config has a `tracing` section (server/gateway/gateway.ts). A config with one needs the
 * packages beside candor: found missing here, when the config loads, with the command that
 * installs them, so that `candor check` says it and `serve` does not die at start on an import.
 */
import type { Report } from './report.ts';

// node:fs through process.getBuiltinModule, as core/version.ts reads the same file.
const { readFileSync } = process.getBuiltinModule('node:fs');

/** The packages observe/tracing/provider.ts imports, with the ranges candor is tested against. */
export function tracingPackages(): Record<string, string> {
  const manifest = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    peerDependencies?: Record<string, string>;
    peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  };
  return Object.fromEntries(
    Object.entries(manifest.peerDependencies ?? {}).filter(
      ([name]) => name.startsWith('@opentelemetry/') && manifest.peerDependenciesMeta?.[name]?.optional,
    ),
  );
}

/** Whether a package can be imported from candor's own modules (where provider.ts imports it). */
export type PackageFinder = (name: string) => boolean;

const installed: PackageFinder = (name) => {
  try {
    import.meta.resolve(name);
    return true;
  } catch {
    return false;
  }
};

export function checkTracingPackages(
  document: unknown,
  report: Report,
  found: PackageFinder = installed,
): void {
  const root = document !== null && typeof document === 'object' ? (document as Record<string, unknown>) : {};
  if (root.tracing === undefined || root.tracing === null) return;
  const wanted = tracingPackages();
  const missing = Object.keys(wanted).filter((name) => !found(name));
  if (missing.length === 0) return;
  const install = Object.entries(wanted)
    .map(([name, range]) => `${name}@"${range}"`)
    .join(' ');
  report(
    ['tracing'],
    `tracing needs the OpenTelemetry SDK, an optional dependency of candor, and ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not installed: install them beside candor (npm install ${install}), or remove the tracing section`,
    'key',
  );
}
