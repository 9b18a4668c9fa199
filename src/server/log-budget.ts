/**
 * How many events of one kind are logged one by one: the first `perWindow` of each window, the
 * rest counted and said in one line (when the next window starts, or when the owner flushes it:
 * on reconnection, at close). Anything that lets a satellite trigger a log line uses one, or any
 * enrolled satellite could fill the disk.
 */
export class LogBudget {
  private windowStart = 0
  private inWindow = 0
  private unreported = 0

  /** `summarize` says how many were not logged one by one (never called with 0). */
  constructor(
    private readonly perWindow: number,
    private readonly windowMs: number,
    private readonly summarize: (count: number) => void,
  ) {}

  /** True when this event is to be logged one by one; false when it was only counted. */
  take(now = Date.now()): boolean {
    if (now - this.windowStart >= this.windowMs) {
      this.flush()
      this.windowStart = now
      this.inWindow = 0
    }
    this.inWindow++
    if (this.inWindow <= this.perWindow) return true
    this.unreported++
    return false
  }

  /**
   * Says the count of events not logged one by one, if any. The window goes on: an owner that
   * flushes often (a bus reconnecting every second) must not reopen the budget each time (QA).
   */
  flush(): void {
    const count = this.unreported
    if (count === 0) return
    this.unreported = 0
    this.summarize(count)
  }
}
