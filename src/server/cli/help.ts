import { VERSION } from '../../core/version.ts';
import { READERS } from '../../kits/explain/detect-format.ts';

/** Every format explain reads, from its one registry, wrapped under the command's description. */
function explainFormats(indent: string, width = 100): string {
  const lines: string[] = [];
  let line = '';
  for (const [i, reader] of READERS.entries()) {
    const word = `${reader.format}${i < READERS.length - 1 ? ',' : ';'}`;
    if (line !== '' && indent.length + line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  lines.push(line);
  return lines.map((l) => indent + l).join('\n');
}

export const HELP = `candor ${VERSION}: a reverse proxy that never lies about a failure

Usage:
  candor serve --config FILE   run the gateway on FILE
        [--workers N]          N processes share the listeners (default: one per core)
        [--pid-file PATH]      write the primary's pid (the one to signal) to PATH while it runs
  candor serve --demo          run the built-in demo: the gateway, healthy and misbehaving upstreams, the status page
  candor check FILE            validate FILE (or --config FILE) and exit (nothing is started)
        [--without-secrets]    for CI: an admin token, TLS private key or \${VAR} that is not there is no
                               problem (everything else is checked); lists the secrets serve will need
  candor reload --config FILE  ask the running gateway to reload the file it runs, through its admin API
                               (address and token from FILE); FILE must be that file, else nothing is
                               read and it exits 64 naming the file the gateway runs (the same as
                               kill -HUP on the primary, but it waits for every worker); a fleet's
                               bootstrap file: exits 64 naming config push and the file it runs
  candor purge --config FILE   drop the running gateway's stored answers (routes[].cache), through its admin API
                               (a fleet's bootstrap file: the admin API of the config it composed)
        [--route NAME]         only that route's
        [--key PREFIX]         only its keys that start so ("host[:port] /path?query"; "/path": on every host)
  candor config push FILE --config BOOTSTRAP
                               a fleet's config (docs/fleet.md): validate FILE with BOOTSTRAP's local
                               section, then write it under BOOTSTRAP's etcd key, only if the key has not
                               moved since it was read (else nothing is written, it names who pushed, exits 69)
        [--if-revision REV]    only if the key is still at REV (the revision you read)
        [--author NAME]        who pushes, in the fleet's history (default: user@host)
        [--canary N]           a canary: only the first N live gateways (by name) run it, judged against the
                               others on their failures and latency; held for --judge-for, every gateway
                               takes it, else those N go back (one line says which metric and figures)
        [--judge-window D]     a look at the counts every D (default 10s)
        [--judge-for D]        how long it must hold (default 5m)
        [--min-requests N]     requests each side needs before a look decides (default 100)
        [--no-wait]            do not wait for the verdict (the gateways judge it without this command)
  candor config history --config BOOTSTRAP
                               the key's revisions, newest first: revision, when, who, size
        [--limit N]            at most N (default 20)
        [--json]               as one JSON object
  candor config rollback REV --config BOOTSTRAP
                               push revision REV's document again (a new revision; --if-revision, --author too)
  candor fleet status --config BOOTSTRAP
                               every live gateway, the revision it runs, its last refusal; BEHIND marks one
                               not on the latest revision (and the exit code is 1; 1 too when the key holds
                               no config while gateways run one), CANARY one running a canary; the canary
                               running or last ended, with its verdict
        [--json]               as one JSON object
  candor diagnose TARGET       walk DNS, connect, TLS, response to a URL (or an upstream, with --config)
                               and say which hop fails and what fixes it; see candor diagnose --help
  candor explain LOG...        the story of the 5xx in access and error logs, plain or gzipped, in
                               ${READERS.length} formats (and any nginx log_format with --nginx-conf):
${explainFormats(' '.repeat(31))}
                               see candor explain --help
  candor explain --proxy-status 'VALUE' | --error TYPE
                               a 502's Proxy-Status, hop by hop, or an error type, in plain words
  candor --help | --version | help COMMAND  (COMMAND's help: candor help diagnose)

Exit codes: 0 ok, 1 serve stopped but a worker had to be killed past its drain, 64 bad command line,
65 a log or Proxy-Status explain cannot read, 69 could not start (port in use...) or, for reload and purge, the admin
API could not be reached or did not do it (for config and fleet: etcd could not be reached, or a push
found the key moved), 70 Node older than 22.18, 78 invalid config; diagnose
also 1 and 2 of its own (see candor diagnose --help).
Config reference: docs/configuration.md (README.md, "Documentation", links every page).
`;
