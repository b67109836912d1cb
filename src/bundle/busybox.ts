// A self-contained OCI bundle built from the host's static busybox (Debian's
// busybox-static): the demo's default bundle, and the tests' and benchmark's.
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { childProcess } from '../sys/node-lazy';
import { join } from 'node:path';
import { ConfigError } from '../errors';
import { defaultSpec } from '../oci/defaults';
import type { Spec } from '../oci/types';

export const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox'];

export function findStaticBusybox(): string {
  for (const p of BUSYBOX_CANDIDATES) {
    if (!existsSync(p)) continue;
    // A dynamically linked busybox would need the host's libc inside the rootfs.
    if (!hasInterpreter(readFileSync(p))) return p;
  }
  throw new ConfigError('no static busybox found: install Debian\'s busybox-static (apt-get install busybox-static)');
}

/** Makes <dir>/rootfs with busybox and its applets, and <dir>/config.json. */
export function makeBusyboxBundle(dir: string, opts: { args?: string[]; mutate?: (spec: Spec) => void } = {}): Spec {
  const busybox = findStaticBusybox();
  const rootfs = join(dir, 'rootfs');
  for (const d of ['bin', 'sbin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'usr/bin', 'usr/sbin', 'var', 'run']) {
    mkdirSync(join(rootfs, d), { recursive: true });
  }
  chmodSync(join(rootfs, 'tmp'), 0o1777);
  copyFileSync(busybox, join(rootfs, 'bin/busybox'));
  chmodSync(join(rootfs, 'bin/busybox'), 0o755);
  const applets = childProcess().execFileSync(busybox, ['--list-full'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const a of applets) {
    const p = join(rootfs, a);
    if (a === 'bin/busybox' || existsSync(p)) continue;
    mkdirSync(join(p, '..'), { recursive: true });
    symlinkSync('/bin/busybox', p);
  }
  writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
  writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n');
  writeFileSync(join(rootfs, 'etc/hostname'), 'tsrun\n');
  const spec = defaultSpec();
  // The demo and the tests show the container its own cgroup tree.
  spec.linux!.namespaces!.push({ type: 'cgroup' });
  spec.process!.terminal = false;
  spec.process!.args = opts.args ?? ['sh'];
  opts.mutate?.(spec);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(spec, null, 2));
  return spec;
}

/** Does this 64-bit little-endian ELF file ask for a dynamic loader (PT_INTERP)? */
function hasInterpreter(elf: Buffer): boolean {
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2) return true;
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) if (elf.readUInt32LE(phoff + i * phentsize) === 3 /* PT_INTERP */) return true;
  return false;
}
