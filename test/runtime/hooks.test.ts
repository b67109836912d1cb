import { afterEach, describe, expect, it, vi } from 'vitest';
import { hookStepError } from '../../src/init/driver';
import { addHookSteps, MAX_TIMER_MS, runHook, setLongTimeout } from '../../src/runtime/hooks';
import { Plan } from '../../src/init/plan';
import type { State } from '../../src/oci/types';

const state: State = { ociVersion: '1.2.0', id: 'c', status: 'creating', pid: 1, bundle: '/b', annotations: {} };

describe('setLongTimeout', () => {
  afterEach(() => vi.useRealTimers());

  it('waits delays above setTimeout\'s 2^31-1 ms in pieces instead of firing at once', () => {
    vi.useFakeTimers();
    const fn = vi.fn();
    const ms = MAX_TIMER_MS * 2 + 5000;
    setLongTimeout(fn, ms);
    vi.advanceTimersByTime(1000);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(ms - 1001);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('can be cancelled in any piece', () => {
    vi.useFakeTimers();
    const fn = vi.fn();
    const cancel = setLongTimeout(fn, MAX_TIMER_MS + 10);
    vi.advanceTimersByTime(MAX_TIMER_MS + 5);
    cancel();
    vi.advanceTimersByTime(MAX_TIMER_MS);
    expect(fn).not.toHaveBeenCalled();
  });

  it('fires short delays as setTimeout does', () => {
    vi.useFakeTimers();
    const fn = vi.fn();
    setLongTimeout(fn, 50);
    vi.advanceTimersByTime(49);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fn).toHaveBeenCalledTimes(1);
  });
});

describe('runHook', () => {
  it('a timeout of 2147484 s (over 2^31-1 ms) does not kill a hook that takes 0.2 s', async () => {
    await expect(runHook('prestart', 0, { path: '/bin/sh', args: ['sh', '-c', 'sleep 0.2'], timeout: 2147484 }, state)).resolves.toBeUndefined();
  });

  it('a short timeout still kills the hook', async () => {
    await expect(runHook('prestart', 0, { path: '/bin/sleep', args: ['sleep', '5'], timeout: 1 }, state)).rejects.toThrow(/prestart hook #0 \(\/bin\/sleep\) timed out after 1s/);
  });
});

describe('hook steps', () => {
  it('carry the hook\'s label for the init and a timeout that fits the plan', () => {
    const plan = new Plan();
    addHookSteps(plan, 'startContainer', [{ path: '/bin/true', timeout: 1e300 }, { path: '/bin/false' }]);
    expect(plan.steps.map((s) => s.what)).toEqual(['startContainer hook #0 (/bin/true)', 'startContainer hook #1 (/bin/false)']);
    const hooks = plan.all('hook');
    expect(hooks[0]!.args.timeout).toBe(Number.MAX_SAFE_INTEGER);
    expect(hooks[1]!.args.timeout).toBe(0);
    expect(hooks[0]!.args.label).toBe('startContainer hook #0 (/bin/true)');
  });

  it('failures the init reports read like a host hook\'s', () => {
    const plan = new Plan();
    addHookSteps(plan, 'createContainer', [{ path: '/bin/sh', timeout: 3 }]);
    const step = plan.first('hook')!;
    expect(hookStepError(step, 10, 2 << 8).message).toBe('createContainer hook #0 (/bin/sh) failed: exit status 2');
    expect(hookStepError(step, 10, 9).message).toBe('createContainer hook #0 (/bin/sh) failed: killed by signal 9');
    expect(hookStepError(step, 110, 9).message).toBe('createContainer hook #0 (/bin/sh) timed out after 3s');
    expect(hookStepError(step, 12, 0).message).toBe('createContainer hook #0 (/bin/sh) could not be run: ENOMEM');
  });
});
