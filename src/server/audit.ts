/**
 * The listener's side of the audit trail: typed helpers for the events `listen` records, written
 * in the background (never awaited on a connection's path, never throwing into it), batched, and
 * bounded (a queue of at most `maxQueue` lines; beyond it lines are dropped and counted, and the
 * next batch says how many). With the AuthFailureLimiter in front, a flood writes at most
 * `maxFailures` auth_failure lines per address per window, one rate_limited line when the address
 * is blocked and one rate_limit_summary when the block ends.
 *
 * Never pass a secret: not the presented key, not a password, not a decrypted payload.
 */
import type {ResolvedSettings} from '../config/settings.js'
import type {AuditInput} from '../audit/entry.js'
import {openAuditTrail} from '../audit/settings.js'
import type {AuditTrail} from '../audit/trail.js'
import type {BlockSummary} from './auth-limiter.js'

/** Identifies a client in listener events (never its secrets). */
export interface ClientRef {
  client_id: number
  name?: string
}

export interface ListenerAuditOptions {
  /** Lines waiting to be written at most. Default 10000. */
  maxQueue?: number
  /** Told about write failures (log them; the listener goes on). Default: ignore. */
  onError?: (error: unknown) => void
}

export class ListenerAudit {
  private queue: AuditInput[] = []
  private dropped = 0
  private writing?: Promise<void>
  private readonly maxQueue: number
  private readonly onError: (error: unknown) => void

  constructor(private readonly trail: AuditTrail, options: ListenerAuditOptions = {}) {
    this.maxQueue = options.maxQueue ?? 10_000
    this.onError = options.onError ?? (() => {})
  }

  /** A failed authentication: unknown or revoked key, wrong password, bad handshake. */
  authFailure(event: {address: string; reason: string; client?: ClientRef}): void {
    this.push({event: 'auth_failure', ...clientFields(event.client), details: {address: event.address, reason: event.reason}})
  }

  /** A client tried something its permissions forbid (a message type not allowed, a blacklisted skill…). */
  policyViolation(event: {address?: string; client: ClientRef; reason: string; messageType?: string}): void {
    this.push({
      event: 'policy_violation',
      ...clientFields(event.client),
      details: {...(event.address ? {address: event.address} : {}), reason: event.reason, ...(event.messageType ? {message_type: event.messageType} : {})},
    })
  }

  /** The listener closed a client's connection, e.g. because the client was revoked. */
  disconnect(event: {address?: string; client: ClientRef; reason: string}): void {
    this.push({event: 'disconnect', ...clientFields(event.client), details: {...(event.address ? {address: event.address} : {}), reason: event.reason}})
  }

  /** An address crossed the failure threshold and is refused for the cooling-off period. */
  rateLimited(event: {address: string; failures: number; windowMs: number; coolOffMs: number}): void {
    this.push({event: 'rate_limited', details: {...event}})
  }

  /** A block ended (from AuthFailureLimiter.sweep()). */
  rateLimitSummary(summary: BlockSummary): void {
    this.push({
      event: 'rate_limit_summary',
      details: {address: summary.address, failures: summary.failures, refused: summary.refused, from: new Date(summary.blockedAt).toISOString(), until: new Date(summary.until).toISOString(), ended: summary.ended},
    })
  }

  /** Lines queued and not yet written. */
  get pending(): number {
    return this.queue.length
  }

  /** Resolves when everything queued so far is written (or failed). */
  async flush(): Promise<void> {
    while (this.writing || this.queue.length > 0) {
      if (!this.writing) this.startWriting()
      await this.writing
    }
  }

  /** Flushes and closes the sinks. */
  async close(): Promise<void> {
    await this.flush()
    await this.trail.close()
  }

  private push(input: AuditInput): void {
    if (this.queue.length >= this.maxQueue) {
      this.dropped++
      return
    }
    this.queue.push({...input, time: new Date()})
    if (!this.writing) this.startWriting()
  }

  private startWriting(): void {
    const batch = this.queue
    this.queue = []
    if (this.dropped > 0) {
      batch.push({event: 'audit_dropped', details: {reason: 'audit queue full', dropped_lines: this.dropped}})
      this.dropped = 0
    }
    this.writing = this.trail
      .recordMany(batch)
      .catch((error: unknown) => this.onError(error))
      .finally(() => {
        this.writing = undefined
        if (this.queue.length > 0) this.startWriting()
      })
  }
}

/** The listener's audit trail from the resolved settings (file, plus the Redis stream when enabled). */
export async function openListenerAudit(settings: ResolvedSettings, options: ListenerAuditOptions & {warn?: (message: string) => void} = {}): Promise<ListenerAudit> {
  const trail = await openAuditTrail(settings, 'listen', options.warn ?? (() => {}))
  return new ListenerAudit(trail, options)
}

function clientFields(client: ClientRef | undefined): Pick<AuditInput, 'client_id' | 'name'> {
  if (!client) return {}
  return {client_id: client.client_id, ...(client.name === undefined ? {} : {name: client.name})}
}
