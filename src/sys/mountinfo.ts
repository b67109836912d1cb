// Reading /proc/self/mountinfo: which mounts exist, for the cgroup layout
// and for the mount point the native init is told instead of searching.

export interface MountInfoEntry {
  /** The root of the mount within its file system. */
  root: string;
  mountPoint: string;
  fstype: string;
  /** The super block's options (the field after the source). */
  superOptions: string[];
}

export function parseMountInfo(text: string): MountInfoEntry[] {
  const out: MountInfoEntry[] = [];
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const fields = line.slice(0, sep).split(' ');
    const post = line.slice(sep + 3).split(' ');
    out.push({ root: unescape(fields[3] ?? ''), mountPoint: unescape(fields[4] ?? ''), fstype: post[0] ?? '', superOptions: (post[2] ?? '').split(',') });
  }
  return out;
}

/** The mount point of the mount that holds `path` (an absolute path without
 * symlinks): the longest mount point that is `path` or one of its ancestors. */
export function mountPointHolding(entries: MountInfoEntry[], path: string): string {
  let best = '/';
  for (const e of entries) {
    const m = e.mountPoint;
    const holds = m === '/' || path === m || path.startsWith(m.endsWith('/') ? m : `${m}/`);
    if (holds && m.length > best.length) best = m;
  }
  return best;
}

/** mountinfo writes space, tab, newline and backslash as octal escapes. */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}
