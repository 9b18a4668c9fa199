/**
 * `last_seen` bookkeeping (protocol.md §5, P8): activity is noted in memory on every message, but
 * written to the store at most once per client per interval, however often the client reconnects:
 * what is pending when its last connection closes is written once its interval allows (at once
 * when it has passed), and everything pending at shutdown.
 */
import type {ClientStore} from '../core/store.js'
import {errorText, type Logger} from './logger.js'

/** Default interval between two writes for one client. */
export const DEFAULT_LAST_SEEN_INTERVAL_MS = 60_000

interface Entry {
  /** Latest activity (unix seconds, float) not yet written. */
  pending?: number
  /** When the last write for this client started (Date.now()), 0 = never. */
  lastWrite: number
  /** False once its last connection closed: the entry goes when nothing is pending and its interval passed. */
  connected: boolean
}

export class LastSeenWriter {
  private readonly entries = new Map<number, Entry>()
  private timer?: NodeJS.Timeout
  private readonly inFlight = new Set<Promise<void>>()
  /** Store writes issued (tests and the P8 check read it). */
  writes = 0

  constructor(
    private readonly store: ClientStore,
    private readonly logger: Logger,
    readonly intervalMs = DEFAULT_LAST_SEEN_INTERVAL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Starts the periodic sweep that writes pending activity once its client's interval has passed. */
  start(): void {
    // A sweep at a fraction of the interval keeps the delay of a pending write bounded.
    const every = Math.max(50, Math.min(this.intervalMs, 5000) / 2)
    this.timer = setInterval(() => this.sweep(), every)
    this.timer.unref()
  }

  /** Notes activity of a client; writes at once when its interval has passed. */
  touch(clientId: number): void {
    const entry = this.entries.get(clientId) ?? {lastWrite: 0, connected: true}
    entry.connected = true
    entry.pending = this.now() / 1000
    this.entries.set(clientId, entry)
    if (this.now() - entry.lastWrite >= this.intervalMs) this.write(clientId, entry)
  }

  /**
   * Its last connection closed: what is pending is written now if its interval has passed, else
   * by the sweep when it does. A satellite reconnecting every second used to cause a write at
   * every close and at every connect.
   */
  disconnected(clientId: number): void {
    const entry = this.entries.get(clientId)
    if (!entry) return
    entry.connected = false
    if (entry.pending !== undefined && this.now() - entry.lastWrite >= this.intervalMs) this.write(clientId, entry)
  }

  /** The client was revoked or removed: nothing more is written for it (a tombstone keeps its last_seen). */
  forget(clientId: number): void {
    this.entries.delete(clientId)
  }

  /** Writes everything pending and waits for every write (shutdown). */
  async flushAll(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    for (const [clientId, entry] of this.entries) if (entry.pending !== undefined) this.write(clientId, entry)
    this.entries.clear()
    await this.settled()
  }

  private sweep(): void {
    const now = this.now()
    for (const [clientId, entry] of this.entries) {
      if (now - entry.lastWrite < this.intervalMs) continue
      if (entry.pending !== undefined) this.write(clientId, entry)
      // Gone, written, and its interval over: a reconnect may write at once again.
      else if (!entry.connected) this.entries.delete(clientId)
    }
  }

  private write(clientId: number, entry: Entry): void {
    const value = entry.pending!
    entry.pending = undefined
    entry.lastWrite = this.now()
    this.writes++
    const done = this.store
      .update(clientId, {last_seen: value})
      .then(() => undefined)
      .catch((error: unknown) => {
        // A deleted client or an unavailable store: activity is advisory, the listener goes on.
        this.logger.debug('last_seen.write_failed', {client_id: clientId, error: errorText(error)})
      })
      .finally(() => this.inFlight.delete(done))
    this.inFlight.add(done)
  }

  private async settled(): Promise<void> {
    await Promise.all([...this.inFlight])
  }
}
