// The tsrun command line: runc's global flags, the command table, help,
// and how a failure becomes one line on stderr and an exit code. Each
// command, with its flags, is in cmd/commands/; the work is in src/.
import { resolve } from 'node:path';
import { version as pkgVersion } from '../package.json';
import { InvalidArgumentError, TsrunError } from '../src/errors';
import { EarlyInit } from '../src/init/early-init';
import { mark } from '../src/sys/trace';
import { formatHelp, getBool, getInt, getString, parseArgs, splitGlobal, type FlagDef, type ParsedFlags } from './args';
import type { Command, Ctx } from './command';
import { checkpointCommand } from './commands/checkpoint';
import { createCommand } from './commands/create';
import { deleteCommand } from './commands/delete';
import { demoCommand } from './commands/demo';
import { eventsCommand } from './commands/events';
import { execCommand } from './commands/exec';
import { featuresCommand } from './commands/features';
import { jailCommand } from './commands/jail';
import { killCommand } from './commands/kill';
import { listCommand } from './commands/list';
import { pauseCommand } from './commands/pause';
import { psCommand } from './commands/ps';
import { restoreCommand } from './commands/restore';
import { resumeCommand } from './commands/resume';
import { runCommand } from './commands/run';
import { specCommand } from './commands/spec';
import { startCommand } from './commands/start';
import { stateCommand } from './commands/state';
import { updateCommand } from './commands/update';
import { checkPreserveFds, inheritedFdsFromEnv } from './inherited-fds';
import { Logger } from './log';
import { UsageError } from './usage-error';

const SPEC_VERSION = '1.3.0';
/** The git commit the bundle was built from (scripts/bundle.mjs defines it). */
declare const TSRUN_COMMIT: string | undefined;

const GLOBAL_FLAGS: FlagDef[] = [
  { name: 'debug', kind: 'bool', usage: 'enable debug logging' },
  { name: 'log', kind: 'string', usage: 'set the log file to write tsrun logs to (default is stderr)' },
  { name: 'log-format', kind: 'string', default: 'text', usage: 'set the log format ("text" or "json")' },
  { name: 'root', kind: 'string', default: '', placeholder: 'value', usage: 'root directory for storage of container state (this should be located in tmpfs); default /run/tsrun, or $XDG_RUNTIME_DIR/tsrun for an unprivileged user' },
  { name: 'criu', kind: 'string', default: 'criu', usage: 'path to the criu binary (checkpointing is not supported)', hidden: true },
  { name: 'systemd-cgroup', kind: 'bool', usage: 'enable systemd cgroup support, expects cgroupsPath to be of form "slice:prefix:name" for e.g. "system.slice:tsrun:434234"' },
  { name: 'rootless', kind: 'string', default: 'auto', usage: 'ignore cgroup permission errors ("true", "false", or "auto")' },
  { name: 'help', alias: ['h'], kind: 'bool', usage: 'show help' },
  { name: 'version', alias: ['v'], kind: 'bool', usage: 'print the version' },
];

/** Every command takes -h/--help. */
const HELP_FLAG: FlagDef = { name: 'help', alias: ['h'], kind: 'bool', usage: 'show help' };

/** In the order `tsrun --help` lists them. */
const COMMANDS: readonly Command[] = [
  createCommand,
  startCommand,
  runCommand,
  execCommand,
  psCommand,
  pauseCommand,
  resumeCommand,
  updateCommand,
  eventsCommand,
  stateCommand,
  listCommand,
  killCommand,
  deleteCommand,
  specCommand,
  featuresCommand,
  demoCommand,
  jailCommand,
  checkpointCommand,
  restoreCommand,
];

function globalHelp(): string {
  const lines = [
    'NAME:',
    '   tsrun - an OCI container runtime in TypeScript, a drop-in for runc',
    '',
    'USAGE:',
    '   tsrun [global options] command [command options] [arguments...]',
    '',
    'VERSION:',
    `   ${pkgVersion}`,
    '',
    'COMMANDS:',
    ...COMMANDS.map((c) => `   ${c.name.padEnd(Math.max(...COMMANDS.map((d) => d.name.length)) + 3)}${c.usage}`),
    '',
    'GLOBAL OPTIONS:',
    ...GLOBAL_FLAGS.filter((f) => !f.hidden).map((f) => `   --${f.name}${f.kind === 'bool' ? '' : ' value'}`.padEnd(28) + f.usage),
  ];
  return lines.join('\n') + '\n';
}

function commandHelp(cmd: Command): string {
  return formatHelp({ ...cmd, name: `tsrun ${cmd.name}` });
}

function context(g: ParsedFlags, log: Logger, early?: EarlyInit): Ctx {
  return { root: getString(g, 'root') ? resolve(getString(g, 'root')) : undefined, systemdCgroup: getBool(g, 'systemd-cgroup'), log, early };
}

/** Runs the CLI; resolves with the process exit code. */
export async function main(argv: string[]): Promise<number> {
  mark('main');
  let log = new Logger(undefined, 'text', false);
  let failureCode = 1;
  const early = EarlyInit.fromEnv();
  const inheritedFds = inheritedFdsFromEnv();
  try {
    const split = splitGlobal(argv, GLOBAL_FLAGS);
    const g = split.global;
    log = new Logger(getString(g, 'log') || undefined, getString(g, 'log-format') as 'text', getBool(g, 'debug'));
    if (getBool(g, 'version')) {
      process.stdout.write(`tsrun version ${pkgVersion}\ncommit: ${typeof TSRUN_COMMIT === 'string' ? TSRUN_COMMIT : 'unknown'}\nspec: ${SPEC_VERSION}\n`);
      return 0;
    }
    if (!split.command || getBool(g, 'help') || split.command === 'help') {
      const which = split.command === 'help' ? split.rest[0] : undefined;
      const cmd = COMMANDS.find((c) => c.name === which);
      process.stdout.write(cmd ? commandHelp(cmd) : globalHelp());
      return 0;
    }
    const cmd = COMMANDS.find((c) => c.name === split.command);
    if (!cmd?.startsProcess) early?.release();
    if (!cmd) throw new UsageError(`No help topic for '${split.command}'`);
    if (cmd.raw) {
      if (split.rest.includes('--help') || split.rest.includes('-h')) {
        process.stdout.write(commandHelp(cmd));
        return 0;
      }
      const code = await cmd.run(context(g, log), {}, split.rest);
      return typeof code === 'number' ? code : 0;
    }
    const p = parseArgs(split.rest, [...cmd.flags, HELP_FLAG], { interspersed: cmd.interspersed ?? true });
    if (p.flags.help) {
      process.stdout.write(commandHelp(cmd));
      return 0;
    }
    const [min, max] = typeof cmd.nargs === 'number' ? [cmd.nargs, cmd.nargs] : cmd.nargs;
    if (p.positional.length < min || p.positional.length > max) {
      const what = min === 1 && max === 1 ? 'exactly 1 argument' : min === max ? `exactly ${min} arguments` : `${min} to ${max} arguments`;
      throw new UsageError(`"tsrun ${cmd.name}" requires ${what} (usage: tsrun ${cmd.name} [command options] ${cmd.argsUsage})`);
    }
    if ('preserve-fds' in p.flags) {
      if (getInt(p, 'preserve-fds') < 0) throw new UsageError('--preserve-fds must not be negative');
      checkPreserveFds(getInt(p, 'preserve-fds'), inheritedFds);
    }
    failureCode = cmd.failureCode ?? 1;
    log.log('debug', `tsrun ${cmd.name} ${p.positional.join(' ')}`.trim());
    const code = await cmd.run(context(g, log, early), p.flags, p.positional);
    return typeof code === 'number' ? code : 0;
  } catch (e) {
    // Bad arguments exit 1 even where a failed command exits otherwise
    // (exec's 255), whether the CLI or the library found them.
    const code = e instanceof UsageError || e instanceof InvalidArgumentError ? 1 : failureCode;
    if (e instanceof TsrunError) {
      log.log('error', e.message);
      return code;
    }
    const err = e as NodeJS.ErrnoException;
    // System errors (EACCES on the state root, ...) are one line, like ours.
    if (err?.code && err.syscall) log.log('error', err.message);
    else log.log('error', `internal error: ${err?.stack ?? e}`);
    return code;
  } finally {
    early?.release();
  }
}
