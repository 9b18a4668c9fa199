/**
 * A HiveMind satellite written from the wire contract (../shared/docs/protocol.md) for tests.
 * It deliberately shares NO code with src/server: its own envelopes, KDF call, ciphers,
 * encodings and bitstring, so a bug on one side cannot hide behind the same bug on the other.
 */
import crypto from 'node:crypto'
import zlib from 'node:zlib'

import WebSocket from 'ws'

export type TestCipher = 'AES-GCM' | 'CHACHA20-POLY1305'
export type TestEncoding = 'JSON-HEX' | 'JSON-B64' | 'JSON-URLSAFE-B64' | 'JSON-B32'

export interface Frame {
  /** Parsed clear JSON (hello/shake from the server), or the decrypted HiveMessage. */
  message: Record<string, any>
  encrypted: boolean
  binary: boolean
}

export interface Closed {
  code: number
  reason: string
}

/** Builds the URL of a hub with credentials (raw base64, NOT percent-encoded, like real clients). */
export function hubUrl(port: number, accessKey: string | undefined, userAgent = 'test-satellite', scheme: 'ws' | 'wss' = 'ws'): string {
  if (accessKey === undefined) return `${scheme}://127.0.0.1:${port}`
  return `${scheme}://127.0.0.1:${port}/?authorization=${Buffer.from(`${userAgent}:${accessKey}`, 'utf8').toString('base64')}`
}

// --- encodings (independent of src/server/encodings.ts) --------------------------------------

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'

function b32encode(bytes: Buffer): string {
  let bitString = ''
  for (const byte of bytes) bitString += byte.toString(2).padStart(8, '0')
  let out = ''
  for (let i = 0; i < bitString.length; i += 5) out += B32[Number.parseInt(bitString.slice(i, i + 5).padEnd(5, '0'), 2)]
  return out.padEnd(Math.ceil(out.length / 8) * 8, '=')
}

function b32decode(text: string): Buffer {
  let bitString = ''
  for (const char of text.replace(/=+$/, '')) {
    const value = B32.indexOf(char)
    if (value < 0) throw new Error('bad base32 in a server frame')
    bitString += value.toString(2).padStart(5, '0')
  }
  const bytes: number[] = []
  for (let i = 0; i + 8 <= bitString.length; i += 8) bytes.push(Number.parseInt(bitString.slice(i, i + 8), 2))
  return Buffer.from(bytes)
}

export function encode(encoding: TestEncoding, bytes: Buffer): string {
  switch (encoding) {
    case 'JSON-HEX': return bytes.toString('hex')
    case 'JSON-B64': return bytes.toString('base64')
    case 'JSON-URLSAFE-B64': return bytes.toString('base64').replace(/\+/g, '-').replace(/\//g, '_')
    case 'JSON-B32': return b32encode(bytes)
  }
}

export function decode(encoding: TestEncoding, text: string): Buffer {
  switch (encoding) {
    case 'JSON-HEX': return Buffer.from(text, 'hex')
    case 'JSON-B64': return Buffer.from(text, 'base64')
    case 'JSON-URLSAFE-B64': return Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64')
    case 'JSON-B32': return b32decode(text)
  }
}

// --- crypto -------------------------------------------------------------------------------

function algo(cipher: TestCipher, key: Buffer): string {
  if (cipher === 'CHACHA20-POLY1305') return 'chacha20-poly1305'
  return `aes-${key.length * 8}-gcm`
}

export function encrypt(cipher: TestCipher, key: Buffer, plaintext: Buffer): {ciphertext: Buffer; tag: Buffer; nonce: Buffer} {
  const nonce = crypto.randomBytes(cipher === 'AES-GCM' ? 16 : 12)
  const c = crypto.createCipheriv(algo(cipher, key) as 'aes-256-gcm', key, nonce, {authTagLength: 16})
  const ciphertext = Buffer.concat([c.update(plaintext), c.final()])
  return {ciphertext, tag: c.getAuthTag(), nonce}
}

export function decrypt(cipher: TestCipher, key: Buffer, parts: {ciphertext: Buffer; tag: Buffer; nonce: Buffer}): Buffer {
  const d = crypto.createDecipheriv(algo(cipher, key) as 'aes-256-gcm', key, parts.nonce, {authTagLength: 16})
  d.setAuthTag(parts.tag)
  return Buffer.concat([d.update(parts.ciphertext), d.final()])
}

/** hex(iv || sha256(iv || password))[:48] */
export function makeEnvelope(password: string, iv = crypto.randomBytes(8)): {iv: Buffer; envelope: string} {
  const hash = crypto.createHash('sha256').update(Buffer.concat([iv, Buffer.from(password, 'utf8')])).digest()
  return {iv, envelope: (iv.toString('hex') + hash.toString('hex')).slice(0, 48)}
}

// --- bitstring (protocol.md §4) ------------------------------------------------------------

// 11 is not in protocol.md: the Python client writes it for `3rdparty` (and types it has no code for).
const TYPE_CODES: Record<string, number> = {shake: 0, bus: 1, shared_bus: 2, broadcast: 3, propagate: 4, escalate: 5, hello: 6, query: 7, cascade: 8, ping: 9, rendezvous: 10, '3rdparty': 11, bin: 12}

/**
 * Encodes a HiveMessage as a bitstring (as a '0'/'1' string first: slow and obviously right).
 * `compressed`: the metadata bytes and the payload are zlib streams (RFC 1950), as the Python
 * client writes them by default. `rawMetadata` / `rawPayload` put given bytes in place of the
 * JSON (for frames that must be rejected).
 */
export function bitstring(message: Record<string, any>, options: {versioned?: boolean; compressed?: boolean; rawMetadata?: Buffer; rawPayload?: Buffer; binType?: number} = {}): Buffer {
  const versioned = options.versioned ?? true
  const compressed = options.compressed ?? false
  const squeeze = (bytes: Buffer) => (compressed ? zlib.deflateSync(bytes) : bytes)
  const meta = options.rawMetadata ?? squeeze(Buffer.from(JSON.stringify(message.metadata ?? {}), 'utf8'))
  // A `bin` payload is raw bytes, never compressed; the others are the JSON of the inner payload.
  const isBin = message.msg_type === 'bin'
  const payload = options.rawPayload ?? (isBin ? Buffer.from(message.payload) : squeeze(Buffer.from(JSON.stringify(message.payload ?? null), 'utf8')))
  if (meta.length > 255) throw new Error('metadata longer than 255 bytes has no bitstring form')
  const bin = (value: number, width: number) => value.toString(2).padStart(width, '0')
  let bits = '1' + (versioned ? '1' + bin(1, 8) : '0') + bin(TYPE_CODES[message.msg_type]!, 5) + (compressed ? '1' : '0') + bin(meta.length, 8)
  for (const byte of meta) bits += bin(byte, 8)
  if (isBin) bits += bin(options.binType ?? 0, 4)
  for (const byte of payload) bits += bin(byte, 8)
  bits = bits.padStart(Math.ceil(bits.length / 8) * 8, '0')
  const out = Buffer.alloc(bits.length / 8)
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(bits.slice(i * 8, i * 8 + 8), 2)
  return out
}

/** Decodes a bitstring (JSON types only), honouring the `compressed` bit. */
export function unbitstring(data: Buffer): Record<string, any> {
  let bits = ''
  for (const byte of data) bits += byte.toString(2).padStart(8, '0')
  let at = bits.indexOf('1') + 1
  const take = (width: number) => {
    const value = Number.parseInt(bits.slice(at, at + width), 2)
    at += width
    return value
  }
  if (take(1) === 1) take(8)
  const code = take(5)
  const msgType = Object.keys(TYPE_CODES).find((key) => TYPE_CODES[key] === code)
  const compressed = take(1) === 1
  const metaLength = take(8)
  const bytes = (count: number) => {
    const out = Buffer.alloc(count)
    for (let i = 0; i < count; i++) out[i] = take(8)
    return out
  }
  const readText = (raw: Buffer) => (compressed ? zlib.inflateSync(raw) : raw).toString('utf8')
  const metadata = metaLength ? JSON.parse(readText(bytes(metaLength))) : {}
  const payload = JSON.parse(readText(bytes(Math.floor((bits.length - at) / 8))))
  return {msg_type: msgType, payload, metadata, compressed}
}

// --- the client ---------------------------------------------------------------------------

export interface ConnectOptions {
  port: number
  accessKey?: string
  /** Raw URL override (garbage authorization tests). */
  url?: string
  password?: string
  /** Legacy mode: skip the handshake, encrypt with this 16-character key. */
  cryptoKey?: string
  ciphers?: string[]
  encodings?: string[]
  binarize?: boolean
  sessionId?: string
  /** Milliseconds to wait for each step. Default 10000. */
  timeoutMs?: number
  /** Source address (e.g. 127.0.0.2, to look like another host on loopback). */
  localAddress?: string
  /** Connect over wss://, trusting only this CA certificate (PEM). */
  ca?: string | Buffer
  /** PBKDF2 iterations, the hub's `kdfIterations` (default 100000, the protocol's; lowered only by benchmarks). */
  kdfIterations?: number
}

export class HiveTestClient {
  readonly frames: Frame[] = []
  closed?: Closed
  key?: Buffer
  cipher: TestCipher = 'AES-GCM'
  encoding: TestEncoding = 'JSON-HEX'
  binary = false
  /** What the server said in clear before the handshake. */
  serverHello?: Record<string, any>
  serverShake?: Record<string, any>
  private waiters: Array<() => void> = []

  constructor(readonly socket: WebSocket, readonly options: ConnectOptions) {
    socket.on('message', (data: Buffer, isBinary: boolean) => this.onFrame(data, isBinary))
    socket.on('close', (code, reason) => {
      this.closed = {code, reason: reason.toString()}
      this.wake()
    })
    socket.on('error', () => {})
  }

  static open(options: ConnectOptions): Promise<HiveTestClient> {
    const url = options.url ?? hubUrl(options.port, options.accessKey, undefined, options.ca ? 'wss' : 'ws')
    const socket = new WebSocket(url, {...(options.localAddress ? {localAddress: options.localAddress} : {}), ...(options.ca ? {ca: options.ca} : {})})
    const client = new HiveTestClient(socket, options)
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(client))
      socket.once('error', reject)
      socket.once('close', () => resolve(client))
    })
  }

  /** Connects and completes the handshake (v1 password, or legacy with cryptoKey). Throws when refused. */
  static async connect(options: ConnectOptions): Promise<HiveTestClient> {
    const client = await HiveTestClient.open(options)
    await client.handshake()
    return client
  }

  private onFrame(data: Buffer, isBinary: boolean): void {
    try {
      if (isBinary) {
        const n = this.cipher === 'AES-GCM' ? 16 : 12
        const plain = decrypt(this.cipher, this.key!, {nonce: data.subarray(0, n), ciphertext: data.subarray(n, data.length - 16), tag: data.subarray(data.length - 16)})
        this.frames.push({message: unbitstring(plain), encrypted: true, binary: true})
      } else {
        const value = JSON.parse(data.toString('utf8'))
        if ('ciphertext' in value) {
          const plain = decrypt(this.cipher, this.key!, {
            ciphertext: decode(this.encoding, value.ciphertext),
            tag: decode(this.encoding, value.tag),
            nonce: decode(this.encoding, value.nonce),
          })
          this.frames.push({message: JSON.parse(plain.toString('utf8')), encrypted: true, binary: false})
        } else {
          this.frames.push({message: value, encrypted: false, binary: false})
        }
      }
    } catch (error) {
      this.frames.push({message: {msg_type: '__undecryptable__', error: String(error)}, encrypted: true, binary: isBinary})
    }
    this.wake()
  }

  private wake(): void {
    const waiters = this.waiters
    this.waiters = []
    for (const waiter of waiters) waiter()
  }

  /** Waits for a frame matching `match` (searching from index `from`), or throws on close/timeout. */
  async waitFor(match: (frame: Frame) => boolean, timeoutMs = this.options.timeoutMs ?? 10_000, from = 0): Promise<Frame> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const found = this.frames.slice(from).find(match)
      if (found) return found
      if (this.closed) throw new Error(`closed ${this.closed.code} ${this.closed.reason}`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error('timed out waiting for a frame')
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }

  /** Resolves with the close code/reason (within the timeout). */
  async waitClosed(timeoutMs = 10_000): Promise<Closed> {
    const deadline = Date.now() + timeoutMs
    while (!this.closed) {
      const left = deadline - Date.now()
      if (left <= 0) throw new Error('timed out waiting for close')
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
    return this.closed
  }

  sendClear(message: Record<string, any>): void {
    this.socket.send(JSON.stringify(message))
  }

  /** Sends an encrypted HiveMessage (binary when agreed, unless forced). */
  send(message: Record<string, any>, options: {binary?: boolean; tagInCiphertext?: boolean; bits?: Parameters<typeof bitstring>[1]} = {}): void {
    const binary = options.binary ?? this.binary
    if (binary) {
      const {ciphertext, tag, nonce} = encrypt(this.cipher, this.key!, bitstring(message, options.bits))
      this.socket.send(Buffer.concat([nonce, ciphertext, tag]), {binary: true})
      return
    }
    const {ciphertext, tag, nonce} = encrypt(this.cipher, this.key!, Buffer.from(JSON.stringify(message), 'utf8'))
    const frame: Record<string, string> = options.tagInCiphertext
      ? {ciphertext: encode(this.encoding, Buffer.concat([ciphertext, tag])), nonce: encode(this.encoding, nonce)}
      : {ciphertext: encode(this.encoding, ciphertext), tag: encode(this.encoding, tag), nonce: encode(this.encoding, nonce)}
    this.socket.send(JSON.stringify(frame))
  }

  /** Sends an OVOS bus message. */
  sendBus(type: string, data: Record<string, unknown> = {}, context: Record<string, unknown> = {}): void {
    this.send({msg_type: 'bus', payload: {type, data, context}, metadata: {}, route: []})
  }

  async handshake(): Promise<void> {
    const {options} = this
    this.serverHello = (await this.waitFor((f) => !f.encrypted && f.message.msg_type === 'hello')).message
    this.serverShake = (await this.waitFor((f) => !f.encrypted && f.message.msg_type === 'shake')).message
    if (options.cryptoKey !== undefined) {
      // Protocol 0: no shake, no hello; straight to encrypted frames.
      this.key = Buffer.from(options.cryptoKey, 'utf8')
      this.cipher = 'AES-GCM'
      this.encoding = 'JSON-HEX'
      return
    }
    const password = options.password ?? ''
    const own = makeEnvelope(password)
    this.sendClear({
      msg_type: 'shake',
      payload: {
        envelope: own.envelope,
        encodings: options.encodings ?? ['JSON-HEX'],
        ciphers: options.ciphers ?? ['AES-GCM'],
        binarize: options.binarize ?? false,
      },
      metadata: {},
      route: [],
    })
    const reply = (await this.waitFor((f) => !f.encrypted && f.message.msg_type === 'shake' && f.message.payload?.envelope !== undefined)).message
    const peerIv = Buffer.from(String(reply.payload.envelope).slice(0, 16), 'hex')
    const salt = Buffer.alloc(8)
    for (let i = 0; i < 8; i++) salt[i] = own.iv[i]! ^ peerIv[i]!
    this.key = await new Promise<Buffer>((resolve, reject) =>
      crypto.pbkdf2(password, salt, options.kdfIterations ?? 100_000, 32, 'sha256', (error, key) => (error ? reject(error) : resolve(key))),
    )
    this.cipher = reply.payload.cipher
    this.encoding = reply.payload.encoding
    this.binary = reply.payload.binarize === true
    this.send({
      msg_type: 'hello',
      payload: {pubkey: '', session: {session_id: options.sessionId ?? crypto.randomUUID()}, site_id: 'test-site'},
      metadata: {},
      route: [],
    })
  }

  /** Encrypted messages received so far. */
  received(msgType?: string): Array<Record<string, any>> {
    return this.frames.filter((f) => f.encrypted && (!msgType || f.message.msg_type === msgType)).map((f) => f.message)
  }

  close(): void {
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) this.socket.close(1000)
  }
}
