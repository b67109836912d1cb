// `checkpoint` and `restore` with runc 1.1's flags. Their arguments are
// checked as runc checks them, before anything else happens; the work
// itself needs CRIU, which tsrun does not drive yet: that is said in one line
// with what `criu check` reports on this host.
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { TsrunError } from '../src/errors';
import { UsageError } from './usage-error';
import type { FlagDef } from './args';

const imagePath: FlagDef = { name: 'image-path', kind: 'string', usage: 'path for saving criu image files' };
const workPath: FlagDef = { name: 'work-path', kind: 'string', usage: 'path for saving work files and logs' };
const shared: FlagDef[] = [
  imagePath,
  workPath,
  { name: 'tcp-established', kind: 'bool', usage: 'allow open tcp connections' },
  { name: 'ext-unix-sk', kind: 'bool', usage: 'allow external unix sockets' },
  { name: 'shell-job', kind: 'bool', usage: 'allow shell jobs' },
  { name: 'lazy-pages', kind: 'bool', usage: 'use userfaultfd to lazily restore memory pages' },
  { name: 'file-locks', kind: 'bool', usage: 'handle file locks, for safety' },
  { name: 'manage-cgroups-mode', kind: 'string', usage: 'cgroups mode: soft|full|strict|ignore (default: soft)' },
  { name: 'empty-ns', kind: 'strings', usage: 'create a namespace, but don\'t restore its properties' },
  { name: 'auto-dedup', kind: 'bool', usage: 'enable auto deduplication of memory images' },
];

export const checkpointFlags: FlagDef[] = [
  ...shared,
  { name: 'parent-path', kind: 'string', usage: 'path for previous criu image files in pre-dump' },
  { name: 'leave-running', kind: 'bool', usage: 'leave the process running after checkpointing' },
  { name: 'status-fd', kind: 'int', usage: 'criu writes \\0 to this FD once lazy-pages is ready' },
  { name: 'page-server', kind: 'string', usage: 'ADDRESS:PORT of the page server' },
  { name: 'pre-dump', kind: 'bool', usage: 'dump container\'s memory information only, leave the container running after this' },
];

export const restoreFlags: FlagDef[] = [
  ...shared,
  { name: 'console-socket', kind: 'string', usage: 'path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console\'s pseudoterminal' },
  { name: 'bundle', alias: ['b'], kind: 'string', usage: 'path to the root of the bundle directory' },
  { name: 'detach', alias: ['d'], kind: 'bool', usage: 'detach from the container\'s process' },
  { name: 'pid-file', kind: 'string', usage: 'specify the file to write the process id to' },
  { name: 'no-subreaper', kind: 'bool', usage: 'disable the use of the subreaper used to reap reparented processes' },
  { name: 'no-pivot', kind: 'bool', usage: 'do not use pivot root to jail process inside rootfs' },
  { name: 'lsm-profile', kind: 'string', usage: 'Specify an LSM profile to be used during restore in the form of TYPE:NAME' },
  { name: 'lsm-mount-context', kind: 'string', usage: 'Specify an LSM mount context to be used during restore' },
];

const CGROUP_MODES = new Set(['soft', 'full', 'strict', 'ignore']);

/** runc's checks of checkpoint's and restore's arguments. */
export function checkCriuArgs(flags: Record<string, unknown>, command: 'checkpoint' | 'restore'): void {
  const mode = flags['manage-cgroups-mode'] as string;
  if (mode && !CGROUP_MODES.has(mode)) throw new UsageError(`invalid --manage-cgroups-mode value "${mode}": use soft, full, strict or ignore`);
  const parent = flags['parent-path'] as string | undefined;
  if (command === 'checkpoint' && parent) {
    if (isAbsolute(parent)) throw new UsageError('--parent-path must be relative (to --image-path)');
    const image = resolve((flags['image-path'] as string) || 'checkpoint');
    let isDir = false;
    try {
      isDir = statSync(join(image, parent)).isDirectory();
    } catch (e) {
      throw new UsageError(`invalid --parent-path ${parent}: ${(e as NodeJS.ErrnoException).code ?? e}`);
    }
    if (!isDir) throw new UsageError(`--parent-path ${parent} must be a directory`);
  }
  const lsm = flags['lsm-profile'] as string | undefined;
  if (lsm && !/^(apparmor|selinux):.+/.test(lsm)) throw new UsageError(`invalid --lsm-profile "${lsm}": use apparmor:NAME or selinux:LABEL`);
}

/** What stands in the way: tsrun does not drive CRIU yet, and this host's
 * CRIU may not work at all; both said in one line. */
export function criuUnavailable(command: 'checkpoint' | 'restore'): never {
  const r = spawnSync('criu', ['check'], { encoding: 'utf8' });
  const last = `${r.stderr ?? ''}\n${r.stdout ?? ''}`.trim().split('\n').pop();
  const said = r.error ? 'criu is not installed' : r.status === 0 ? 'criu check passes' : `criu check: ${last || `exit status ${r.status}`}`;
  throw new TsrunError(`${command} needs CRIU, which tsrun does not drive yet (${said})`);
}
