import { afterEach, describe, expect, it } from 'vitest';
import { freeze, isFrozen, thaw } from '../../src/cgroups/freezer';
import { CgroupError } from '../../src/cgroups/fsutil';
import { fakeHost, type FakeHost } from './fakefs';

let host: FakeHost | undefined;
afterEach(() => {
  host?.cleanup();
  host = undefined;
});

describe('v1 freezer', () => {
  it('writes FROZEN and THAWED and reports the state', () => {
    host = fakeHost(['freezer']);
    expect(isFrozen(host.mgr)).toBe(false);
    freeze(host.mgr); // a plain file reads back what was written: FROZEN at once
    expect(host.read('freezer', 'freezer.state')).toBe('FROZEN');
    host.write('freezer', 'freezer.self_freezing', '1\n');
    expect(isFrozen(host.mgr)).toBe(true);
    thaw(host.mgr);
    expect(host.read('freezer', 'freezer.state')).toBe('THAWED');
    expect(isFrozen(host.mgr)).toBe(false);
  });

  it('is not frozen itself when only an ancestor is', () => {
    host = fakeHost(['freezer']);
    host.write('freezer', 'freezer.state', 'FROZEN\n');
    host.write('freezer', 'freezer.self_freezing', '0\n');
    expect(isFrozen(host.mgr)).toBe(false);
  });

  it('prefers the v1 freezer over cgroup.freeze on a hybrid host', () => {
    host = fakeHost(['freezer'], { controllers: [] });
    freeze(host.mgr);
    expect(host.read('freezer', 'freezer.state')).toBe('FROZEN');
    expect(host.read('unified', 'cgroup.freeze')).toBe('0');
  });
});

describe('v2 freezer', () => {
  it('writes cgroup.freeze and waits for cgroup.events', () => {
    host = fakeHost([], { controllers: [] });
    host.write('unified', 'cgroup.events', 'populated 1\nfrozen 1\n');
    freeze(host.mgr);
    expect(host.read('unified', 'cgroup.freeze')).toBe('1');
    expect(isFrozen(host.mgr)).toBe(true);
    thaw(host.mgr);
    expect(host.read('unified', 'cgroup.freeze')).toBe('0');
    expect(isFrozen(host.mgr)).toBe(false);
  });

  it('times out, thaws back, and throws when the cgroup never freezes', () => {
    host = fakeHost([], { controllers: [] });
    expect(() => freeze(host!.mgr, { timeoutMs: 50 })).toThrow(CgroupError);
    expect(host.read('unified', 'cgroup.freeze')).toBe('0');
  });

  it('fails to freeze without any freezer, and thaw is a no-op', () => {
    host = fakeHost(['memory']);
    expect(() => freeze(host!.mgr)).toThrow(/no freezer on this host/);
    expect(() => thaw(host!.mgr)).not.toThrow();
    expect(isFrozen(host.mgr)).toBe(false);
  });
});
