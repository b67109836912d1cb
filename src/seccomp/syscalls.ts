// Syscall name <-> number tables, generated from libseccomp by scripts/gen-syscalls.mjs.
//
// syscalls.json keeps each architecture's table as one comma-separated string indexed by
// number; a table is decoded only when an architecture is actually used, and nothing is
// cached at module level (decoding a table takes a few tens of microseconds).

import data from './syscalls.json';

export type TableArch = 'x86_64' | 'x86' | 'x32' | 'aarch64';
export const TABLE_ARCHES: readonly TableArch[] = ['x86_64', 'x86', 'x32', 'aarch64'];

interface ArchEntry {
  base: number;
  names: string;
  aliases?: Record<string, number>;
}

const ARCH_DATA = data.arches as Record<TableArch, ArchEntry>;
const MULTIPLEXED = data.multiplexed as Partial<Record<TableArch, Record<string, readonly number[]>>>;

export interface SyscallTable {
  readonly arch: TableArch;
  /** name -> syscall number as seen in seccomp_data.nr (x32 numbers include 0x40000000). */
  readonly byName: ReadonlyMap<string, number>;
  /**
   * x86 only: calls that libseccomp also matches through a multiplexer, name -> [number of
   * socketcall(2) or ipc(2), sub-call number passed in argument 0].
   */
  readonly multiplexed: ReadonlyMap<string, readonly [number, number]>;
}

/** Decodes one architecture's table. */
export function syscallTable(arch: TableArch): SyscallTable {
  const entry = ARCH_DATA[arch];
  const byName = new Map<string, number>();
  const names = entry.names.split(',');
  for (let i = 0; i < names.length; i++) {
    const n = names[i]!;
    if (n !== '') byName.set(n, entry.base + i);
  }
  if (entry.aliases) for (const [n, nr] of Object.entries(entry.aliases)) byName.set(n, nr);
  const multiplexed = new Map<string, readonly [number, number]>();
  for (const [n, [muxNr, sub]] of Object.entries(MULTIPLEXED[arch] ?? {})) multiplexed.set(n, [muxNr!, sub!]);
  return { arch, byName, multiplexed };
}

/** Name of syscall `nr` on `arch`, or undefined (slow path: for messages and tests). */
export function syscallName(arch: TableArch, nr: number): string | undefined {
  const entry = ARCH_DATA[arch];
  const n = entry.names.split(',')[nr - entry.base];
  if (n) return n;
  for (const [alias, v] of Object.entries(entry.aliases ?? {})) if (v === nr) return alias;
  return undefined;
}

function inList(list: string, name: string): boolean {
  return `,${list},`.includes(`,${name},`);
}

/**
 * Whether libseccomp knows `name` at all (on any architecture it supports, not only the four
 * tables here). runc silently skips names that libseccomp knows but that do not exist on an
 * architecture, and skips (with a debug message) names libseccomp does not know.
 */
export function isKnownSyscallName(name: string): boolean {
  if (name === '' || name.includes(',')) return false;
  for (const arch of TABLE_ARCHES) {
    const e = ARCH_DATA[arch];
    if (inList(e.names, name) || (e.aliases !== undefined && Object.hasOwn(e.aliases, name))) return true;
    if (Object.hasOwn(MULTIPLEXED[arch] ?? {}, name)) return true;
  }
  return inList(data.otherNames, name);
}

/** libseccomp version the tables were generated from. */
export const SYSCALL_TABLE_SOURCE: string = `libseccomp ${data.libseccomp}`;
