import { describe, expect, it } from 'vitest';
import { execProcess, type ExecFlags } from '../../src/runtime/exec-process';
import type { Spec } from '../../src/oci/types';

const flags = (over: Partial<ExecFlags>): ExecFlags => ({ args: ['sh'], env: [], additionalGids: [], caps: [], tty: false, noNewPrivs: false, ...over });

describe('exec --cap', () => {
  const spec: Spec = {
    ociVersion: '1.2.0',
    process: { user: { uid: 0, gid: 0 }, cwd: '/', capabilities: { bounding: ['CAP_KILL'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'], inheritable: ['CAP_KILL'] } },
  };

  it('adds the capability to bounding, effective and permitted, not to inheritable or ambient (CVE-2022-29162)', () => {
    const caps = execProcess(spec, '/nonexistent', flags({ caps: ['sys_admin', 'CAP_NET_RAW'] })).capabilities!;
    for (const set of ['bounding', 'effective', 'permitted'] as const) expect(caps[set]).toEqual(['CAP_KILL', 'CAP_SYS_ADMIN', 'CAP_NET_RAW']);
    // What the container's config says stays as it is.
    expect(caps.inheritable).toEqual(['CAP_KILL']);
    expect(caps.ambient).toBeUndefined();
  });

  it('leaves the container\'s capabilities untouched', () => {
    execProcess(spec, '/nonexistent', flags({ caps: ['CAP_SYS_ADMIN'] }));
    expect(spec.process!.capabilities!.bounding).toEqual(['CAP_KILL']);
  });
});
