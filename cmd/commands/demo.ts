import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type Command, runtime } from '../command';

/** What the demo container runs: it shows its own isolation from the inside. */
const DEMO_SCRIPT = [
  'echo "hello from a tsrun container"',
  'echo "  hostname:      $(hostname)"',
  'echo "  my pid:        $$ (pid 1 in my own pid namespace)"',
  'echo "  processes:     $(ls /proc | grep -c "^[0-9]")"',
  'echo "  uid_map:       $(cat /proc/self/uid_map | tr -s " ")"',
  'echo "  capabilities:  $(grep CapEff /proc/self/status | cut -f2)"',
  'echo "  network:       $(ls /sys/class/net | tr "\\n" " ")"',
  'touch /probe 2>/dev/null && echo "  root fs:       writable" || echo "  root fs:       read-only"',
].join('; ');

export const demoCommand: Command = {
  name: 'demo',
  usage: 'run a demo container from the built-in busybox bundle (no registry needed)',
  argsUsage: '',
  description: 'Builds a bundle from the host\'s static busybox (Debian busybox-static) and the default spec in a temporary directory, runs it in the foreground and deletes it.',
  flags: [{ name: 'keep-bundle', kind: 'string', usage: 'write the bundle to this directory and keep it' }],
  nargs: 0,
  run: async (ctx, f) => {
    const { makeBusyboxBundle } = await import('../../src/bundle/busybox');
    const keep = f['keep-bundle'] as string;
    const dir = keep ? resolve(keep) : mkdtempSync(join(tmpdir(), 'tsrun-demo-'));
    try {
      makeBusyboxBundle(dir, { args: ['sh', '-c', DEMO_SCRIPT] });
      const rt = await runtime(ctx);
      return await rt.run(`tsrun-demo-${process.pid}`, { bundle: dir });
    } finally {
      if (!keep) rmSync(dir, { recursive: true, force: true });
    }
  },
};
