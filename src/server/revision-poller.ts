/**
 * Watches the store for changes made by other processes (add-client, delete-client, allow-*) by
 * polling its cheap `revision()` token, and runs `onChange` when it moves (R12, R13). A failed
 * refresh is retried on the next tick; store outages are logged once per outage.
 */
import {isHivemindError} from '../core/errors.js'
import type {ClientStore} from '../core/store.js'
import {errorText, type Logger} from './logger.js'

/**
 * Default polling interval. A poll is one cheap token read (a pragma, a stat, a Redis GET), so
 * polling often costs little, while the interval is the largest part of the time a revocation
 * takes to reach a live connection on a busy machine (R12: ≤ 1 s); 250 ms left too little margin
 * at a load average of 20 on 2 cores.
 */
export const DEFAULT_POLL_INTERVAL_MS = 100

export class RevisionPoller {
  private timer?: NodeJS.Timeout
  private last?: string
  private running = false
  private failing = false
  private stopped = false

  constructor(
    private readonly store: ClientStore,
    private readonly onChange: () => Promise<void>,
    private readonly logger: Logger,
    readonly intervalMs = DEFAULT_POLL_INTERVAL_MS,
    /** Called once when the store says it cannot serve again in this process (HivemindError.untilRestart). */
    private readonly onUnrecoverable?: (error: Error) => void,
  ) {}

  /** onUnrecoverable was called. */
  private gaveUp = false

  /** Reads the current revision, then polls. */
  async start(): Promise<void> {
    try {
      this.last = await this.store.revision()
    } catch (error) {
      this.logger.warn('store.unavailable', {during: 'revision', error: errorText(error)})
      this.failing = true
    }
    this.schedule()
  }

  stop(): void {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
  }

  /** One poll (exposed so tests and the refresh after an outage need not wait for a tick). */
  async poll(): Promise<void> {
    if (this.running) return
    this.running = true
    try {
      const revision = await this.store.revision()
      // After an outage the data may have changed in ways the token cannot show (a restarted
      // server): refresh whenever the token differs or the last refresh did not complete.
      if (revision !== this.last) {
        await this.onChange()
        this.last = revision
      }
      // Available once a refresh went through, not when the cheap token alone answers: a json
      // file that does not parse answers stat() every time, and said "available" every 100 ms.
      if (this.failing) {
        this.failing = false
        this.logger.info('store.available')
      }
    } catch (error) {
      if (!this.failing) this.logger.warn('store.unavailable', {during: 'revision', error: errorText(error), ...hintOf(error)})
      this.failing = true
      if (isHivemindError(error) && error.untilRestart && !this.gaveUp) {
        this.gaveUp = true
        this.onUnrecoverable?.(error)
      }
      // Forces a refresh once the store answers again.
      this.last = undefined
    } finally {
      this.running = false
    }
  }

  private schedule(): void {
    if (this.stopped) return
    this.timer = setTimeout(async () => {
      await this.poll()
      this.schedule()
    }, this.intervalMs)
  }
}

/** The store's advice, for the log line (our messages and suggestions hold no secret). */
function hintOf(error: unknown): {suggestion?: string} {
  return isHivemindError(error) && error.suggestion ? {suggestion: error.suggestion} : {}
}
