// Hooks that run in the runtime's namespace (prestart, createRuntime,
// poststart, poststop) are started from here; createContainer and
// startContainer run inside the container and are plan steps instead.
import { childProcess } from '../sys/node-lazy';
import { HookError } from '../errors';
import type { Hook, HookName, State } from '../oci/types';
import { NO_SLOT, type Plan, Slot } from '../init/plan';

function envObject(env: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of env ?? []) {
    const i = kv.indexOf('=');
    if (i > 0) out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

/** The longest delay setTimeout takes: above it Node fires at once (after a
 * TimeoutOverflowWarning), which would kill a hook with a long timeout. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** setTimeout for any delay: a longer one is waited for in pieces. Returns
 * the function that cancels it. */
export function setLongTimeout(fn: () => void, ms: number): () => void {
  let timer: NodeJS.Timeout | undefined;
  const arm = (left: number) => {
    timer = left > MAX_TIMER_MS ? setTimeout(() => arm(left - MAX_TIMER_MS), MAX_TIMER_MS) : setTimeout(fn, left);
  };
  arm(ms);
  return () => clearTimeout(timer);
}

export function runHook(name: HookName, index: number, hook: Hook, state: State): Promise<void> {
  const label = `${name} hook #${index} (${hook.path})`;
  return new Promise((resolve, reject) => {
    const args = hook.args ?? [hook.path];
    const child = childProcess().spawn(hook.path, args.slice(1), {
      argv0: args[0] ?? hook.path,
      env: envObject(hook.env),
      stdio: ['pipe', 'inherit', 'inherit'],
    });
    let clearTimer = () => {};
    if (hook.timeout && hook.timeout > 0) {
      clearTimer = setLongTimeout(() => {
        child.kill('SIGKILL');
        reject(new HookError(`${label} timed out after ${hook.timeout}s`));
      }, hook.timeout * 1000);
    }
    child.on('error', (e) => {
      clearTimer();
      reject(new HookError(`${label} could not be run: ${e.message}`));
    });
    child.on('exit', (code, signal) => {
      clearTimer();
      if (code === 0) resolve();
      else reject(new HookError(`${label} failed: ${signal ? `killed by ${signal}` : `exit status ${code}`}`));
    });
    child.stdin!.on('error', () => {}); // a hook need not read its stdin
    child.stdin!.end(JSON.stringify(state));
  });
}

/** Runs a phase's hooks in order; the first failure is thrown. */
export async function runHooks(name: HookName, hooks: Hook[] | undefined, state: State): Promise<void> {
  for (const [i, h] of (hooks ?? []).entries()) await runHook(name, i, h, state);
}

/** For hooks whose failure the spec says to log and ignore (poststart, poststop). */
export async function runHooksWarn(name: HookName, hooks: Hook[] | undefined, state: State, warn: (msg: string) => void): Promise<void> {
  for (const [i, h] of (hooks ?? []).entries()) {
    try {
      await runHook(name, i, h, state);
    } catch (e) {
      warn((e as Error).message);
    }
  }
}

/** Hooks run by the init itself, inside the container's namespaces. The
 * label goes along for a failure the init reports alone on the container's
 * stderr (startContainer, after the runtime is gone). */
export function addHookSteps(plan: Plan, name: HookName, hooks: Hook[] | undefined): void {
  for (const [i, h] of (hooks ?? []).entries()) {
    const label = `${name} hook #${i} (${h.path})`;
    // Beyond 2^53 s the number is not exact anyway; the init saturates its deadline.
    const timeout = Math.min(h.timeout ?? 0, Number.MAX_SAFE_INTEGER);
    // createContainer hooks run in the rootfs, as with runc.
    const cwd = name === 'createContainer' ? Slot.ROOT : NO_SLOT;
    plan.add('hook', label, { path: h.path, args: h.args ?? [h.path], env: h.env ?? [], timeout, label, cwdSlot: cwd });
  }
}
