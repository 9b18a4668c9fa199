/**
 * Caps handshakes in flight, for the listener. The password handshake runs a deliberately slow key
 * derivation; without a cap a flood of connections queues thousands of derivations on the thread
 * pool and real clients wait behind them. The gate admits at most `maxInFlight` handshakes at
 * once, and at most `maxPerAddress` from one address, so one flooding address can never take
 * more than its share. A connection that is not admitted should be closed at once (close code
 * 1013, "try again later"), before any expensive work.
 *
 * Memory: one counter per address with a handshake in flight, so at most `maxInFlight` entries.
 */
import {addressKey} from './auth-limiter.js'

export interface HandshakeGateOptions {
  /** Handshakes in flight at most, all addresses together. Default 64. */
  maxInFlight?: number
  /** Handshakes in flight at most from one address (IPv6: one /64). Default 4. */
  maxPerAddress?: number
}

export const HANDSHAKE_GATE_DEFAULTS = {maxInFlight: 64, maxPerAddress: 4} as const

/** Why a handshake was not admitted. */
export type GateRefusal = 'busy' | 'address-busy'

export class HandshakeGate {
  readonly maxInFlight: number
  readonly maxPerAddress: number
  private total = 0
  private readonly perAddress = new Map<string, number>()
  private refusedCount = 0

  constructor(options: HandshakeGateOptions = {}) {
    this.maxInFlight = options.maxInFlight ?? HANDSHAKE_GATE_DEFAULTS.maxInFlight
    this.maxPerAddress = options.maxPerAddress ?? HANDSHAKE_GATE_DEFAULTS.maxPerAddress
    if (!Number.isSafeInteger(this.maxInFlight) || this.maxInFlight < 1) throw new RangeError('maxInFlight must be a positive integer')
    if (!Number.isSafeInteger(this.maxPerAddress) || this.maxPerAddress < 1) throw new RangeError('maxPerAddress must be a positive integer')
  }

  /**
   * Admits a handshake: returns a release function (call it exactly when the handshake ends, in
   * success, failure or disconnect; extra calls are ignored), or the reason it is refused.
   */
  tryAcquire(address: string): {release: () => void} | {refused: GateRefusal} {
    const key = addressKey(address)
    const current = this.perAddress.get(key) ?? 0
    if (current >= this.maxPerAddress) {
      this.refusedCount++
      return {refused: 'address-busy'}
    }
    if (this.total >= this.maxInFlight) {
      this.refusedCount++
      return {refused: 'busy'}
    }
    this.total++
    this.perAddress.set(key, current + 1)
    let released = false
    return {
      release: () => {
        if (released) return
        released = true
        this.total--
        const left = (this.perAddress.get(key) ?? 1) - 1
        if (left <= 0) this.perAddress.delete(key)
        else this.perAddress.set(key, left)
      },
    }
  }

  /** Handshakes in flight (all, or from one address). */
  inFlight(address?: string): number {
    return address === undefined ? this.total : (this.perAddress.get(addressKey(address)) ?? 0)
  }

  /** Counters for monitoring. */
  stats(): {inFlight: number; addresses: number; refused: number} {
    return {inFlight: this.total, addresses: this.perAddress.size, refused: this.refusedCount}
  }
}
