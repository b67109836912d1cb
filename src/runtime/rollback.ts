// What a failed create undoes: each stage of create registers the undo of
// what it has just set up, and a failure runs them all in one fixed order
// (the pid file first, the state directory last), whatever order they were
// set up in: the container's process must be gone before its cgroup can be
// removed, and the state directory names the container until the end.

export const UNDO_ORDER = ['pid file', 'init', 'container process', 'systemd unit', 'cgroup', 'network', 'slirp', 'state directory'] as const;
export type UndoKind = (typeof UNDO_ORDER)[number];

export class Rollback {
  private readonly steps: { kind: UndoKind; undo: () => unknown }[] = [];

  add(kind: UndoKind, undo: () => unknown): void {
    this.steps.push({ kind, undo });
  }

  /** Runs the undos (in UNDO_ORDER; one kind in the order added). An undo
   * that throws stops the rest: those that must not throw catch. */
  async run(): Promise<void> {
    for (const kind of UNDO_ORDER) {
      for (const s of this.steps) if (s.kind === kind) await s.undo();
    }
    this.steps.length = 0;
  }
}
