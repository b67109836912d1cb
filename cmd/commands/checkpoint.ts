// `checkpoint` (and, in restore.ts, `restore`) with runc 1.1's flags. Their
// arguments are checked as runc checks them, before anything else happens;
// the work itself needs CRIU, which tsrun does not drive yet: that is said in
// one line with what `criu check` reports on this host.
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { TsrunError } from '../../src/errors';
import type { FlagDef } from '../args';
import { type Command, runtime } from '../command';
import { UsageError } from '../usage-error';

/** The flags checkpoint and restore share. */
export const criuFlags: FlagDef[] = [
  { name: 'image-path', kind: 'string', usage: 'path for saving criu image files' },
  { name: 'work-path', kind: 'string', usage: 'path for saving work files and logs' },
  { name: 'tcp-established', kind: 'bool', usage: 'allow open tcp connections' },
  { name: 'ext-unix-sk', kind: 'bool', usage: 'allow external unix sockets' },
  { name: 'shell-job', kind: 'bool', usage: 'allow shell jobs' },
  { name: 'lazy-pages', kind: 'bool', usage: 'use userfaultfd to lazily restore memory pages' },
  { name: 'file-locks', kind: 'bool', usage: 'handle file locks, for safety' },
  { name: 'manage-cgroups-mode', kind: 'string', usage: 'cgroups mode: soft|full|strict|ignore (default: soft)' },
  { name: 'empty-ns', kind: 'strings', usage: 'create a namespace, but don\'t restore its properties' },
  { name: 'auto-dedup', kind: 'bool', usage: 'enable auto deduplication of memory images' },
];

const checkpointFlags: FlagDef[] = [
  ...criuFlags,
  { name: 'parent-path', kind: 'string', usage: 'path for previous criu image files in pre-dump' },
  { name: 'leave-running', kind: 'bool', usage: 'leave the process running after checkpointing' },
  { name: 'status-fd', kind: 'int', usage: 'criu writes \\0 to this FD once lazy-pages is ready' },
  { name: 'page-server', kind: 'string', usage: 'ADDRESS:PORT of the page server' },
  { name: 'pre-dump', kind: 'bool', usage: 'dump container\'s memory information only, leave the container running after this' },
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

export const checkpointCommand: Command = {
  name: 'checkpoint',
  usage: 'checkpoint a running container',
  argsUsage: '<container-id>',
  description: 'The checkpoint command saves the state of the container instance.',
  flags: checkpointFlags,
  nargs: 1,
  run: async (ctx, f, [id]) => {
    checkCriuArgs(f, 'checkpoint');
    const st = await (await runtime(ctx)).state(id!);
    if (st.status !== 'running') throw new TsrunError(`cannot checkpoint a ${st.status} container`);
    criuUnavailable('checkpoint');
  },
};
