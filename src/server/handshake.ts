/**
 * The protocol-1 password handshake (protocol.md §3, "hSub" envelopes) and the choice of
 * encoding and cipher. Key derivation runs on libuv's thread pool (async crypto.pbkdf2), never on
 * the event loop.
 */
import {createHash, pbkdf2, randomBytes, timingSafeEqual} from 'node:crypto'

import {CIPHERS, type Cipher, isCipher} from './ciphers.js'
import {ENCODINGS, type Encoding, isEncoding} from './encodings.js'

/** PBKDF2-HMAC-SHA256 iterations of the session key. */
export const KDF_ITERATIONS = 100_000
/** Session key length in bytes. */
export const SESSION_KEY_BYTES = 32
const ENVELOPE_HEX = 48

/** One side of a password handshake: its random iv and the envelope it sends. */
export interface HandshakeSide {
  iv: Buffer
  envelope: string
}

/** Draws an iv and builds our envelope: hex(iv || SHA256(iv || password)) cut to 48 characters. */
export function createEnvelope(password: string): HandshakeSide {
  const iv = randomBytes(8)
  return {iv, envelope: envelopeFor(iv, password, ENVELOPE_HEX)}
}

function envelopeFor(iv: Buffer, password: string, length: number): string {
  const digest = createHash('sha256').update(iv).update(Buffer.from(password, 'utf8')).digest()
  return Buffer.concat([iv, digest]).toString('hex').slice(0, length)
}

/**
 * Checks the peer's envelope against the stored password (constant time); returns the peer's iv,
 * or undefined for a wrong password or a malformed envelope.
 */
export function verifyEnvelope(envelope: unknown, password: string): Buffer | undefined {
  if (typeof envelope !== 'string' || envelope.length < ENVELOPE_HEX || envelope.length > 80 || !/^[0-9a-fA-F]+$/.test(envelope)) return undefined
  const normalized = envelope.toLowerCase()
  const iv = Buffer.from(normalized.slice(0, 16), 'hex')
  const expected = Buffer.from(envelopeFor(iv, password, normalized.length), 'utf8')
  const received = Buffer.from(normalized, 'utf8')
  return expected.length === received.length && timingSafeEqual(expected, received) ? iv : undefined
}

/** salt = own iv XOR peer iv. */
export function handshakeSalt(ownIv: Buffer, peerIv: Buffer): Buffer {
  const salt = Buffer.alloc(8)
  for (let i = 0; i < 8; i++) salt[i] = ownIv[i]! ^ peerIv[i]!
  return salt
}

/** PBKDF2-HMAC-SHA256(password, salt, 100000) → 32 bytes, off the event loop. */
export function deriveSessionKey(password: string, salt: Buffer, iterations = KDF_ITERATIONS): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    pbkdf2(Buffer.from(password, 'utf8'), salt, iterations, SESSION_KEY_BYTES, 'sha256', (error, key) => (error ? reject(error) : resolve(key)))
  })
}

/** What the server allows, in its order of preference. */
export interface CryptoOffer {
  encodings: readonly Encoding[]
  ciphers: readonly Cipher[]
}

export const DEFAULT_OFFER: CryptoOffer = {encodings: ENCODINGS, ciphers: CIPHERS}

/**
 * The first of the client's encodings and ciphers that the server also allows. A client that
 * names none gets the protocol defaults (JSON-HEX, AES-GCM) when the server allows them.
 * Undefined when there is no overlap.
 */
export function negotiate(clientEncodings: unknown, clientCiphers: unknown, offer: CryptoOffer): {encoding: Encoding; cipher: Cipher} | undefined {
  const encodings = Array.isArray(clientEncodings) && clientEncodings.length > 0 ? clientEncodings : ['JSON-HEX']
  const ciphers = Array.isArray(clientCiphers) && clientCiphers.length > 0 ? clientCiphers : ['AES-GCM']
  const encoding = encodings.find((item): item is Encoding => isEncoding(item) && offer.encodings.includes(item))
  const cipher = ciphers.find((item): item is Cipher => isCipher(item) && offer.ciphers.includes(item))
  return encoding && cipher ? {encoding, cipher} : undefined
}

/**
 * Bounds how many key derivations run at once (the thread pool has 4 threads by default; a flood
 * of handshakes must queue here rather than starve file and DNS work) and how many may wait.
 */
export class KdfLimiter {
  private running = 0
  private readonly waiting: Array<() => void> = []

  constructor(
    readonly concurrency = 2,
    readonly maxQueued = 256,
  ) {}

  /** In flight + queued. */
  get load(): number {
    return this.running + this.waiting.length
  }

  /** Whether another derivation may be queued. */
  hasRoom(): boolean {
    return this.waiting.length < this.maxQueued
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) await new Promise<void>((resolve) => this.waiting.push(resolve))
    this.running++
    try {
      return await work()
    } finally {
      this.running--
      this.waiting.shift()?.()
    }
  }
}
