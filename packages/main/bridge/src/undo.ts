// The undo stack of ADD: each step that changed something pushes how to take it back; on any
// failure the steps are undone newest first, and a failing undo is logged, never thrown. A step
// may be asynchronous (an IPAM DEL run in-process); each is finished before the next starts.

/** Steps to take back, newest first. */
export class UndoStack {
  private readonly steps: Array<{ what: string; run: () => void | Promise<unknown> }> = [];

  constructor(private readonly log: (msg: string) => void) {}

  /** Records how to undo a change that has just been made. */
  push(what: string, run: () => void | Promise<unknown>): void {
    this.steps.push({ what, run });
  }

  /** Undoes everything recorded (newest first) and forgets it. */
  async unwind(): Promise<void> {
    while (this.steps.length > 0) {
      const step = this.steps.pop()!;
      try {
        await step.run();
      } catch (e) {
        this.log(`undo of ${step.what} failed: ${(e as Error).message}`);
      }
    }
  }

  /** What is recorded, oldest first (for tests and logs). */
  get pending(): string[] {
    return this.steps.map((s) => s.what);
  }
}
