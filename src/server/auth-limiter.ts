/**
 * Per-address limiting of failed authentications, for the listener. An address that fails
 * `maxFailures` times within `windowMs` is refused for `coolOffMs`; while refused, its attempts are
 * only counted (no key derivation, no log line), and the end of the block yields ONE summary.
 *
 * Memory is bounded whatever the attacker does: at most `maxTracked` addresses are tracked (each
 * with at most `maxFailures` timestamps). When full, the least recently active address that is
 * not blocked is forgotten first; only when every tracked address is blocked is the oldest block
 * dropped (counted in `stats().evictedBlocks`). IPv6 addresses are tracked per /64 (one host
 * usually owns a whole /64, so rotating addresses inside it must not reset the count) and
 * IPv4-mapped IPv6 addresses as plain IPv4.
 *
 * Time comes from `now()` (injectable), so tests need no real waiting.
 */

/** Settings of {@link AuthFailureLimiter}. */
export interface AuthLimiterOptions {
  /** Failures within the window that block an address. Default 10. */
  maxFailures?: number
  /** Sliding window the failures are counted in (ms). Default 60000. */
  windowMs?: number
  /** How long a blocked address is refused (ms). Default 300000 (5 minutes). */
  coolOffMs?: number
  /** Addresses tracked at most (memory bound). Default 10000. */
  maxTracked?: number
  /** Clock (ms). Default Date.now. */
  now?: () => number
}

export const AUTH_LIMITER_DEFAULTS = {maxFailures: 10, windowMs: 60_000, coolOffMs: 300_000, maxTracked: 10_000} as const

/** The outcome of {@link AuthFailureLimiter.check}. */
export type CheckResult = {allowed: true} | {allowed: false; retryAfterMs: number}

/** The outcome of {@link AuthFailureLimiter.recordFailure}. */
export interface FailureResult {
  /** The address is now refused. */
  blocked: boolean
  /** This failure crossed the threshold: log ONE warning and write one `rate_limited` audit line now. */
  justBlocked: boolean
  /** Failures of this address within the window (including this one). */
  failures: number
}

/** What happened to an address during one block (log it as one summary line). */
export interface BlockSummary {
  /** The tracked key (an IPv4 address, or an IPv6 /64 as "2001:db8:1:2::/64"). */
  address: string
  /** Failures that caused the block. */
  failures: number
  /** Attempts refused while blocked. */
  refused: number
  /** ms timestamps. */
  blockedAt: number
  until: number
  /** "expired" normally; "evicted" when dropped to keep memory bounded. */
  ended: 'expired' | 'evicted'
}

interface Watched {
  /** Failure times within the window, oldest first, at most maxFailures. */
  failures: number[]
}

interface Blocked {
  failures: number
  refused: number
  blockedAt: number
  until: number
}

/** Pending summaries kept at most (the listener drains them with sweep()). */
const MAX_PENDING_SUMMARIES = 1000

export class AuthFailureLimiter {
  readonly maxFailures: number
  readonly windowMs: number
  readonly coolOffMs: number
  readonly maxTracked: number
  private readonly now: () => number
  /** Not blocked, least recently active first (re-inserted on every failure). */
  private readonly watching = new Map<string, Watched>()
  /** Blocked, in the order the blocks started = the order they end (constant cool-off). */
  private readonly blocked = new Map<string, Blocked>()
  private pending: BlockSummary[] = []
  private droppedSummaries = 0
  private evictedBlocks = 0
  private evictedWatched = 0

  constructor(options: AuthLimiterOptions = {}) {
    this.maxFailures = options.maxFailures ?? AUTH_LIMITER_DEFAULTS.maxFailures
    this.windowMs = options.windowMs ?? AUTH_LIMITER_DEFAULTS.windowMs
    this.coolOffMs = options.coolOffMs ?? AUTH_LIMITER_DEFAULTS.coolOffMs
    this.maxTracked = options.maxTracked ?? AUTH_LIMITER_DEFAULTS.maxTracked
    this.now = options.now ?? Date.now
    for (const [name, value] of Object.entries({maxFailures: this.maxFailures, windowMs: this.windowMs, coolOffMs: this.coolOffMs, maxTracked: this.maxTracked})) {
      if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer`)
    }
  }

  /**
   * Call when a connection arrives, BEFORE any expensive work. A refused attempt is counted for
   * the block's summary; nothing else should be logged for it.
   */
  check(address: string): CheckResult {
    const key = addressKey(address)
    const block = this.blocked.get(key)
    if (!block) return {allowed: true}
    const now = this.now()
    if (now >= block.until) {
      this.endBlock(key, block, 'expired')
      return {allowed: true}
    }
    block.refused++
    return {allowed: false, retryAfterMs: block.until - now}
  }

  /** Call when an address failed to authenticate (bad key, bad password, bad handshake). */
  recordFailure(address: string): FailureResult {
    const key = addressKey(address)
    const now = this.now()
    const block = this.blocked.get(key)
    if (block) {
      if (now < block.until) {
        block.refused++
        return {blocked: true, justBlocked: false, failures: block.failures}
      }
      this.endBlock(key, block, 'expired')
    }
    let entry = this.watching.get(key)
    if (entry) this.watching.delete(key)
    else {
      this.makeRoom(now)
      entry = {failures: []}
    }
    const windowStart = now - this.windowMs
    while (entry.failures.length > 0 && entry.failures[0]! <= windowStart) entry.failures.shift()
    entry.failures.push(now)
    if (entry.failures.length >= this.maxFailures) {
      this.blocked.set(key, {failures: entry.failures.length, refused: 0, blockedAt: now, until: now + this.coolOffMs})
      return {blocked: true, justBlocked: true, failures: entry.failures.length}
    }
    // Re-inserted: the Map's order is least recently active first.
    this.watching.set(key, entry)
    return {blocked: false, justBlocked: false, failures: entry.failures.length}
  }

  /** True while the address is refused (does not count an attempt). */
  isBlocked(address: string): boolean {
    const block = this.blocked.get(addressKey(address))
    return block !== undefined && this.now() < block.until
  }

  /**
   * Ends expired blocks and forgets idle addresses; returns the summaries of blocks that ended
   * since the last call (log one line each). Call it periodically, e.g. every 10 s.
   */
  sweep(): BlockSummary[] {
    const now = this.now()
    for (const [key, block] of this.blocked) {
      if (now < block.until) break // ordered by end time
      this.endBlock(key, block, 'expired')
    }
    const windowStart = now - this.windowMs
    for (const [key, entry] of this.watching) {
      // Least recently active first: stop at the first address still inside its window.
      if (entry.failures.at(-1)! > windowStart) break
      this.watching.delete(key)
    }
    const out = this.pending
    this.pending = []
    return out
  }

  /** Counters for monitoring (and tests of the memory bound). */
  stats(): {tracked: number; watching: number; blocked: number; evictedBlocks: number; evictedWatched: number; droppedSummaries: number} {
    return {
      tracked: this.watching.size + this.blocked.size,
      watching: this.watching.size,
      blocked: this.blocked.size,
      evictedBlocks: this.evictedBlocks,
      evictedWatched: this.evictedWatched,
      droppedSummaries: this.droppedSummaries,
    }
  }

  private makeRoom(now: number): void {
    if (this.watching.size + this.blocked.size < this.maxTracked) return
    for (const [key, block] of this.blocked) {
      if (now < block.until) break
      this.endBlock(key, block, 'expired')
    }
    if (this.watching.size + this.blocked.size < this.maxTracked) return
    const oldestWatched = this.watching.keys().next()
    if (!oldestWatched.done) {
      this.watching.delete(oldestWatched.value)
      this.evictedWatched++
      return
    }
    const oldestBlocked = this.blocked.entries().next()
    if (!oldestBlocked.done) {
      this.evictedBlocks++
      this.endBlock(oldestBlocked.value[0], oldestBlocked.value[1], 'evicted')
    }
  }

  private endBlock(key: string, block: Blocked, ended: BlockSummary['ended']): void {
    this.blocked.delete(key)
    if (this.pending.length >= MAX_PENDING_SUMMARIES) {
      this.droppedSummaries++
      return
    }
    this.pending.push({address: key, failures: block.failures, refused: block.refused, blockedAt: block.blockedAt, until: block.until, ended})
  }
}

/**
 * The key an address is tracked under: IPv4 as is ("::ffff:1.2.3.4" → "1.2.3.4"), IPv6 by its
 * /64 prefix ("2001:db8:1:2:a:b:c:d" → "2001:db8:1:2::/64"). Anything else (a Unix socket
 * path, a proxy-given name) is used verbatim.
 */
export function addressKey(address: string): string {
  let value = address.trim().toLowerCase()
  if (value.startsWith('[') && value.endsWith(']')) value = value.slice(1, -1)
  const zone = value.indexOf('%')
  if (zone !== -1) value = value.slice(0, zone)
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(value)
  if (mapped) return mapped[1]!
  if (!value.includes(':')) return value
  const hextets = expandIpv6(value)
  if (!hextets) return value
  return `${hextets.slice(0, 4).map((part) => part.replace(/^0+(?=.)/, '')).join(':')}::/64`
}

function expandIpv6(value: string): string[] | undefined {
  const halves = value.split('::')
  if (halves.length > 2) return undefined
  const parse = (part: string) => (part === '' ? [] : part.split(':'))
  const head = parse(halves[0]!)
  const tail = halves.length === 2 ? parse(halves[1]!) : []
  // An embedded IPv4 tail (::1.2.3.4) counts as two hextets.
  const last = tail.at(-1) ?? head.at(-1)
  const ipv4Tail = last !== undefined && last.includes('.') ? 1 : 0
  const missing = 8 - head.length - tail.length - ipv4Tail
  if (halves.length === 1 && missing !== 0) return undefined
  if (missing < 0) return undefined
  const all = [...head, ...Array.from({length: missing}, () => '0'), ...tail]
  if (all.slice(0, 4).some((part) => !/^[0-9a-f]{1,4}$/.test(part))) return undefined
  return all.map((part) => (/^[0-9a-f]{1,4}$/.test(part) ? part.padStart(4, '0') : part))
}
