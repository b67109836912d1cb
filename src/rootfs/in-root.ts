// Host paths of files inside a container's rootfs, for the few files tsrun
// itself reads there (the image's /etc/passwd and /etc/group for `exec -u`).
// Symlinks are followed as the container would see them: an absolute target
// starts again at the rootfs, and ".." stops at it, so an image cannot point
// tsrun at a host file. (Mount targets are resolved by the native init with
// openat2(RESOLVE_IN_ROOT); this is the same rule for reads done in Node.)
import { lstatSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../errors';

const MAX_LINKS = 40; // as the kernel's ELOOP limit

/** `path` (as seen inside the container) resolved to a host path under `root`. */
export function joinInRoot(root: string, path: string): string {
  const todo = path.split('/').filter(Boolean);
  const done: string[] = [];
  let links = 0;
  while (todo.length > 0) {
    const part = todo.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      done.pop(); // at the root, ".." is the root
      continue;
    }
    const host = join(root, ...done, part);
    let isLink = false;
    try {
      isLink = lstatSync(host).isSymbolicLink();
    } catch {
      // missing: nothing below it can be a link
    }
    if (!isLink) {
      done.push(part);
      continue;
    }
    if (++links > MAX_LINKS) throw new ConfigError(`${path} in ${root}: too many levels of symbolic links`);
    const target = readlinkSync(host);
    if (target.startsWith('/')) done.length = 0;
    todo.unshift(...target.split('/').filter(Boolean));
  }
  return join(root, ...done);
}
