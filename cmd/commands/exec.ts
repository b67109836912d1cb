import { resolve } from 'node:path';
import { parseSubCgroups } from '../../src/cgroups/sub-cgroup';
import { type Command, consoleSocketFlag, detachFlag, forwardSignals, pidFileFlag, preserveFdsFlag, runtime } from '../command';
import { UsageError } from '../usage-error';

export const execCommand: Command = {
  name: 'exec',
  usage: 'execute new process inside the container',
  argsUsage: '<container-id> <command> [command options]  || -p process.json <container-id>',
  interspersed: false,
  startsProcess: true,
  failureCode: 255,
  flags: [
    consoleSocketFlag,
    { name: 'cwd', kind: 'string', usage: 'current working directory in the container' },
    { name: 'env', alias: ['e'], kind: 'strings', usage: 'set environment variables' },
    { name: 'tty', alias: ['t'], kind: 'bool', usage: 'allocate a pseudo-TTY' },
    { name: 'user', alias: ['u'], kind: 'string', usage: 'UID (format: <uid>[:<gid>])' },
    { name: 'additional-gids', alias: ['g'], kind: 'strings', usage: 'additional gids' },
    { name: 'process', alias: ['p'], kind: 'string', usage: 'path to the process.json' },
    detachFlag,
    pidFileFlag,
    { name: 'process-label', kind: 'string', usage: 'set the asm process label for the process commonly used with selinux' },
    { name: 'apparmor', kind: 'string', usage: 'set the apparmor profile for the process' },
    { name: 'no-new-privs', kind: 'bool', usage: 'set the no new privileges value for the process' },
    { name: 'cap', alias: ['c'], kind: 'strings', usage: 'add a capability to the bounding, effective and permitted sets of the process' },
    preserveFdsFlag,
    { name: 'ignore-paused', kind: 'bool', usage: 'allow exec in a paused container' },
    { name: 'cgroup', kind: 'strings', usage: 'run the process in an (existing) sub-cgroup(s). Format is [<controller>:]<cgroup>.' },
  ],
  nargs: [1, Infinity],
  run: async (ctx, f, [id, ...args]) => {
    const { execProcess, loadProcessFile } = await import('../../src/runtime/exec-process');
    const rt = await runtime(ctx);
    const st = rt.stored(id!);
    let proc;
    if (f.process) {
      proc = loadProcessFile(resolve(f.process as string));
    } else {
      const gids = (f['additional-gids'] as string[]).flatMap((g) => g.split(',')).map((g) => {
        if (!/^\d+$/.test(g)) throw new UsageError(`invalid additional gid "${g}"`);
        return Number(g);
      });
      proc = execProcess(st.config, st.rootfs, {
        args,
        env: f.env as string[],
        cwd: (f.cwd as string) || undefined,
        user: (f.user as string) || undefined,
        additionalGids: gids,
        caps: f.cap as string[],
        tty: !!f.tty,
        noNewPrivs: !!f['no-new-privs'],
        apparmor: (f.apparmor as string) || undefined,
        processLabel: (f['process-label'] as string) || undefined,
      });
    }
    let stop = () => {};
    const code = await rt.exec(id!, proc, {
      detach: !!f.detach,
      pidFile: (f['pid-file'] as string) || undefined,
      consoleSocket: (f['console-socket'] as string) || undefined,
      preserveFds: (f['preserve-fds'] as number) || 0,
      ignorePaused: !!f['ignore-paused'],
      subCgroups: parseSubCgroups(f.cgroup as string[]),
      earlyInit: ctx.early,
      onStarted: (pid) => (stop = forwardSignals(pid)),
    });
    stop();
    return code;
  },
};
