// The process `tsrun exec` starts: the container's own process settings,
// overridden by runc's exec flags or replaced by a --process file.
import { readFileSync } from 'node:fs';
import { ConfigError, InvalidArgumentError } from '../errors';
import type { Process, Spec } from '../oci/types';
import { validateSpec } from '../oci/validate';
import { joinInRoot } from '../rootfs/in-root';

export interface ExecFlags {
  args: string[];
  env: string[];
  cwd?: string;
  user?: string;
  additionalGids: number[];
  caps: string[];
  tty: boolean;
  noNewPrivs: boolean;
  apparmor?: string;
  processLabel?: string;
}

/** Reads and validates a process.json given to --process. */
export function loadProcessFile(path: string): Process {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`--process ${path}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${path}: invalid JSON: ${(e as Error).message}`);
  }
  // Validate it as the process section of a config, with the same messages.
  const spec = validateSpec({ ociVersion: '1.0.0', root: { path: 'rootfs' }, process: value }, path);
  return spec.process!;
}

/** Merges exec flags into the container's process settings, like runc exec. */
export function execProcess(spec: Spec, rootfs: string, f: ExecFlags): Process {
  const base = spec.process;
  if (f.args.length === 0) throw new InvalidArgumentError('exec: no command given (usage: tsrun exec [command options] <container-id> <command> [args...])');
  const user = { ...(base?.user ?? { uid: 0, gid: 0 }) };
  if (f.user) Object.assign(user, parseUser(f.user, rootfs));
  if (f.additionalGids.length) user.additionalGids = f.additionalGids;
  const caps = structuredClone(base?.capabilities ?? {});
  for (const cap of f.caps) {
    const name = cap.toUpperCase().startsWith('CAP_') ? cap.toUpperCase() : `CAP_${cap.toUpperCase()}`;
    // Not inheritable or ambient (CVE-2022-29162, runc >= 1.1.2): those
    // would pass the capability on across execve to programs that never
    // asked for it, e.g. to a non-root user's shell.
    for (const set of ['bounding', 'effective', 'permitted'] as const) {
      caps[set] = [...new Set([...(caps[set] ?? []), name])];
    }
  }
  const proc: Process = {
    terminal: f.tty,
    user,
    args: f.args,
    env: mergeEnv(base?.env ?? [], f.env),
    cwd: f.cwd ?? base?.cwd ?? '/',
    capabilities: caps,
    rlimits: base?.rlimits,
    noNewPrivileges: f.noNewPrivs || base?.noNewPrivileges,
    apparmorProfile: f.apparmor ?? base?.apparmorProfile,
    selinuxLabel: f.processLabel ?? base?.selinuxLabel,
  };
  if (!proc.cwd.startsWith('/')) throw new InvalidArgumentError(`exec: --cwd ${proc.cwd} must be an absolute path`);
  return proc;
}

/** Later entries override earlier ones with the same name. */
function mergeEnv(base: string[], extra: string[]): string[] {
  const out = new Map<string, string>();
  for (const kv of [...base, ...extra]) {
    if (!kv.includes('=')) throw new InvalidArgumentError(`exec: environment entry "${kv}" must be NAME=value`);
    out.set(kv.slice(0, kv.indexOf('=')), kv);
  }
  return [...out.values()];
}

/** "uid[:gid]" numerically, or names looked up in the container's /etc/passwd
 * and /etc/group (symlinks followed inside the rootfs). */
export function parseUser(spec: string, rootfs: string): { uid: number; gid: number } {
  const [u, g] = spec.split(':', 2) as [string, string | undefined];
  const num = (s: string) => (/^\d+$/.test(s) ? Number(s) : undefined);
  let uid = num(u);
  let gid = g !== undefined ? num(g) : undefined;
  if (uid === undefined || (g === undefined && gid === undefined)) {
    const entry = lookup(joinInRoot(rootfs, '/etc/passwd'), u);
    if (uid === undefined) {
      if (!entry) throw new InvalidArgumentError(`exec: unable to find user ${u}: no matching entries in passwd file`);
      uid = Number(entry[2]);
    }
    if (g === undefined) gid = entry ? Number(entry[3]) : 0;
  }
  if (gid === undefined) {
    const entry = lookup(joinInRoot(rootfs, '/etc/group'), g!);
    if (!entry) throw new InvalidArgumentError(`exec: unable to find group ${g}: no matching entries in group file`);
    gid = Number(entry[2]);
  }
  return { uid, gid };
}

function lookup(file: string, nameOrId: string): string[] | undefined {
  try {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === nameOrId || f[2] === nameOrId) return f;
    }
  } catch {
    // no such file in the image
  }
  return undefined;
}
