// User-mode networking for containers of an unprivileged user (or anyone who
// asks for it): slirp4netns, from Debian's package of that name, gives the
// container's own network namespace a tap device with NAT to the host, as
// rootless podman does. 10.0.2.2 inside reaches the host's loopback.
import { childProcess } from '../sys/node-lazy';
import { existsSync, readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { ConfigError, TsrunError } from '../errors';

export const SLIRP_NETWORK = 'slirp4netns';

export function slirpBinary(): string {
  for (const p of ['/usr/bin/slirp4netns', '/usr/local/bin/slirp4netns', '/bin/slirp4netns']) if (existsSync(p)) return p;
  throw new ConfigError('--network slirp4netns needs the slirp4netns program (Debian package slirp4netns)');
}

/** Starts slirp4netns for the init's network namespace and waits until it
 * has configured tap0 (address, route). Returns its pid; it runs detached
 * until the container is deleted. */
export async function startSlirp(initPid: number): Promise<number> {
  const bin = slirpBinary();
  const child = childProcess().spawn(bin, ['--configure', '--mtu=65520', '--ready-fd=3', String(initPid), 'tap0'], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const ready = child.stdio[3] as Readable;
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new TsrunError('slirp4netns did not become ready within 10 s')), 10000);
    ready.once('data', () => {
      clearTimeout(timer);
      resolve();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new TsrunError(`slirp4netns exited (status ${code}): ${stderr.trim().split('\n').pop() ?? ''}`));
    });
  });
  ready.destroy();
  child.stderr?.destroy();
  child.unref();
  return child.pid!;
}

export async function stopSlirp(pid: number | undefined): Promise<void> {
  if (!pid) return;
  const ours = () => {
    try {
      // Only our slirp4netns, not a process that reused its pid.
      return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'slirp4netns' && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
    } catch {
      return false;
    }
  };
  if (!ours()) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let i = 0; i < 200 && ours(); i++) await new Promise((r) => setTimeout(r, 5));
  // Dead but maybe not reaped yet: when it is our child (tsrun run), the
  // event loop reaps it; tsrun exits right after a command, so give it that.
  for (let i = 0; i < 100 && existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 2));
}
