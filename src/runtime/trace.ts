// Phase timings for performance work: TSRUN_TRACE=1 prints milliseconds since
// the process started at each mark. Free when off.
import { performance } from 'node:perf_hooks';

const on = !!process.env.TSRUN_TRACE;

export function mark(label: string): void {
  if (on) process.stderr.write(`[trace] ${performance.now().toFixed(1)} ms ${label}\n`);
}
