// Phase timings for performance work: TSRUN_TRACE=1 prints milliseconds since
// the process started at each mark. Free when off.
// Read at every mark, not cached: a startup snapshot is built in another
// environment than the one it runs in.
export function mark(label: string): void {
  if (process.env.TSRUN_TRACE) process.stderr.write(`[trace] ${performance.now().toFixed(1)} ms ${label}\n`);
}
