// What /proc says about a process.
import { readFileSync } from 'node:fs';

/** Fields 3 (state), 4 (ppid) and 22 (starttime) of /proc/<pid>/stat, or undefined if gone. */
export function procStat(pid: number): { state: string; ppid: number; startTime: number } | undefined {
  if (pid <= 0) return undefined;
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // comm may contain spaces and parentheses: split after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0]!, ppid: Number(rest[1]), startTime: Number(rest[19]) };
}

let own: { pid: number; start: number } | undefined;
/** This process's start time, read once (keyed by pid: a startup snapshot
 * carries module state over from the process that built it). */
export function ownStartTime(): number {
  if (own?.pid !== process.pid) own = { pid: process.pid, start: procStat(process.pid)?.startTime ?? 0 };
  return own.start;
}
