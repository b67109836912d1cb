// Terminals: in the foreground tsrun relays the container's pty to its own
// terminal (driven here by script(1)); stdin typed there reaches the container.
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { Sandbox, TSRUN } from './helpers';

const sb = new Sandbox('terminal');
afterAll(() => sb.cleanup());

/** Runs a shell command line under script(1), i.e. with a real terminal. */
function underPty(cmd: string, input = ''): { out: string; code: number } {
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', input, timeout: 20000 });
  return { out: r.stdout ?? '', code: r.status ?? -1 };
}

describe('foreground terminal', () => {
  it('run of a terminal config gets a pty inside, with our window size, and the exit code', () => {
    const b = sb.bundle(['sh', '-c', 'tty; stty size; echo hi; exit 5'], (s) => (s.process!.terminal = true));
    const r = underPty(`stty cols 100 rows 30; ${TSRUN} --root ${sb.root} run -b ${b} ${sb.id()}; echo rc=$?`);
    expect(r.out).toMatch(/\/dev\/pts\/0/);
    expect(r.out).toContain('30 100');
    expect(r.out).toContain('hi');
    expect(r.out).toContain('rc=5');
  });

  it('relays what is typed to the container', () => {
    const b = sb.bundle(['sh', '-c', 'read line; echo got:$line'], (s) => (s.process!.terminal = true));
    const r = underPty(`${TSRUN} --root ${sb.root} run -b ${b} ${sb.id()}`, 'hello\n');
    expect(r.out).toContain('got:hello');
  });

  it('exec -t into a running container', () => {
    const id = sb.id();
    const b = sb.bundle(['sleep', '60']);
    expect(sb.tsrun(['run', '-d', '--bundle', b, id]).code).toBe(0);
    const r = underPty(`${TSRUN} --root ${sb.root} exec -t ${id} sh -c 'tty; echo exec-tty; exit 4'; echo rc=$?`);
    expect(r.out).toMatch(/\/dev\/pts\/\d+/);
    expect(r.out).toContain('exec-tty');
    expect(r.out).toContain('rc=4');
    expect(sb.tsrun(['delete', '--force', id]).code).toBe(0);
  });

  it('refuses a terminal for a detached container without a console socket', () => {
    const b = sb.bundle(['true'], (s) => (s.process!.terminal = true));
    const id = sb.id();
    const r = sb.tsrun(['run', '-d', '--bundle', b, id]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/console-socket/);
    expect(sb.tsrun(['state', id]).code).not.toBe(0);
  });
});
