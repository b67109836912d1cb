// The file descriptors the native init starts with: the container's stdio,
// the fds it keeps (--preserve-fds), then the control socket, then extra
// fds for the init. Shared by the driver and the early init.
import type { IOType } from 'node:child_process';

/** A file descriptor, or what Node's spawn makes of 'inherit'/'ignore'/'pipe'. */
export type StdioEntry = IOType | number;

/** The fd number the init sees the control socket at; extra fds follow it. */
export function ctrlFdNumber(preserveFds: number): number {
  return 3 + preserveFds;
}
