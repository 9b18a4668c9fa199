/**
 * HiveMessages (protocol.md §2): validation of what a peer sent, the JSON form, and the binary
 * "bitstring" form used when `binarize` is agreed (§4).
 */
import {inflateSync} from 'node:zlib'

/** Every message type of the protocol. */
export const MESSAGE_TYPES = [
  'shake', 'hello', 'bus', 'shared_bus', 'broadcast', 'propagate', 'escalate', 'intercom', 'query', 'cascade', 'ping', 'rendezvous', 'bin', '3rdparty',
] as const
export type MessageType = (typeof MESSAGE_TYPES)[number]

/** A HiveMessage. `payload` is an OVOS message for `bus`, another HiveMessage for wrappers. */
export interface HiveMessage {
  msg_type: MessageType
  payload: unknown
  metadata: Record<string, unknown>
  route: unknown[]
  node?: string | null
  target_site_id?: string | null
  target_pubkey?: string | null
  source_peer?: string | null
}

/** An OVOS bus message. */
export interface BusMessage {
  type: string
  data: Record<string, unknown>
  context: Record<string, unknown>
}

/** Raised for a frame whose plaintext is not a HiveMessage. */
export class MessageFormatError extends Error {}

const TYPE_SET: ReadonlySet<string> = new Set(MESSAGE_TYPES)

/** A plain (non-array) object. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A HiveMessage with every optional field defaulted. */
export function hiveMessage(msgType: MessageType, payload: unknown, extra: Partial<HiveMessage> = {}): HiveMessage {
  return {msg_type: msgType, payload, metadata: {}, route: [], node: null, target_site_id: null, target_pubkey: null, source_peer: null, ...extra}
}

/** Validates a parsed JSON value as a HiveMessage (throws MessageFormatError). */
export function toHiveMessage(value: unknown): HiveMessage {
  if (!isObject(value)) throw new MessageFormatError('not an object')
  const type = value.msg_type
  if (typeof type !== 'string' || !TYPE_SET.has(type)) throw new MessageFormatError('unknown msg_type')
  const metadata = value.metadata === undefined || value.metadata === null ? {} : value.metadata
  if (!isObject(metadata)) throw new MessageFormatError('metadata must be an object')
  const route = value.route === undefined || value.route === null ? [] : value.route
  if (!Array.isArray(route)) throw new MessageFormatError('route must be a list')
  const message: HiveMessage = {...value, msg_type: type as MessageType, payload: value.payload ?? null, metadata, route} as HiveMessage
  return message
}

/** Parses the UTF-8 JSON of a HiveMessage. */
export function parseHiveMessage(text: string): HiveMessage {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new MessageFormatError('not JSON')
  }
  return toHiveMessage(value)
}

/** An OVOS message object `{type, data, context}`, or undefined when the value is not one. */
export function toBusMessage(value: unknown): BusMessage | undefined {
  if (!isObject(value) || typeof value.type !== 'string' || value.type === '') return undefined
  const data = value.data === undefined || value.data === null ? {} : value.data
  const context = value.context === undefined || value.context === null ? {} : value.context
  if (!isObject(data) || !isObject(context)) return undefined
  return {type: value.type, data, context}
}

// --- binary form --------------------------------------------------------------------------

/** 5-bit type codes of the bitstring form. */
const BINARY_CODES: Partial<Record<MessageType, number>> = {
  shake: 0, bus: 1, shared_bus: 2, broadcast: 3, propagate: 4, escalate: 5, hello: 6, query: 7, cascade: 8, ping: 9, rendezvous: 10, bin: 12,
}
const TYPES_BY_CODE = new Map(Object.entries(BINARY_CODES).map(([type, code]) => [code, type as MessageType]))
// Read only: the Python client (hivemind_bus_client) writes 11 for `3rdparty` and for any type it
// has no code for. protocol.md lists no 11, so we never write it (such messages go as JSON).
TYPES_BY_CODE.set(11, '3rdparty')

/** The protocol version written in the bitstring. */
export const BITSTRING_PROTOCOL_VERSION = 1

/** Writes bits most-significant first into a buffer of known size. */
class BitWriter {
  private bit: number
  constructor(readonly buffer: Buffer, startBit: number) {
    this.bit = startBit
  }

  bits(value: number, count: number): void {
    for (let i = count - 1; i >= 0; i--) {
      if ((value >>> i) & 1) this.buffer[this.bit >>> 3]! |= 0x80 >>> (this.bit & 7)
      this.bit++
    }
  }

  bytes(data: Uint8Array): void {
    if ((this.bit & 7) === 0) {
      this.buffer.set(data, this.bit >>> 3)
      this.bit += data.length * 8
      return
    }
    for (const byte of data) this.bits(byte, 8)
  }
}

class BitReader {
  private bit = 0
  constructor(private readonly buffer: Buffer) {}

  get remaining(): number {
    return this.buffer.length * 8 - this.bit
  }

  bits(count: number): number {
    if (count > this.remaining) throw new MessageFormatError('bitstring too short')
    let value = 0
    for (let i = 0; i < count; i++) {
      value = (value << 1) | ((this.buffer[this.bit >>> 3]! >>> (7 - (this.bit & 7))) & 1)
      this.bit++
    }
    return value
  }

  bytes(count: number): Buffer {
    if (count * 8 > this.remaining) throw new MessageFormatError('bitstring too short')
    if ((this.bit & 7) === 0) {
      const out = this.buffer.subarray(this.bit >>> 3, (this.bit >>> 3) + count)
      this.bit += count * 8
      return out
    }
    const out = Buffer.alloc(count)
    for (let i = 0; i < count; i++) out[i] = this.bits(8)
    return out
  }

  rest(): Buffer {
    return this.bytes(Math.floor(this.remaining / 8))
  }
}

/**
 * The bitstring of a message, or undefined when it has no binary form (a type without a code,
 * or metadata longer than 255 bytes): the caller then sends a JSON frame.
 */
export function toBitstring(message: HiveMessage): Buffer | undefined {
  const code = BINARY_CODES[message.msg_type]
  if (code === undefined || message.msg_type === 'bin') return undefined
  const meta = Buffer.from(JSON.stringify(message.metadata ?? {}), 'utf8')
  if (meta.length > 255) return undefined
  const payload = Buffer.from(JSON.stringify(message.payload ?? null), 'utf8')
  // marker + versioned + version + type + compressed + meta length.
  const headerBits = 1 + 1 + 8 + 5 + 1 + 8
  const bodyBits = headerBits + meta.length * 8 + payload.length * 8
  const pad = (8 - (bodyBits % 8)) % 8
  const writer = new BitWriter(Buffer.alloc((pad + bodyBits) / 8), pad)
  writer.bits(1, 1)
  writer.bits(1, 1)
  writer.bits(BITSTRING_PROTOCOL_VERSION, 8)
  writer.bits(code, 5)
  writer.bits(0, 1)
  writer.bits(meta.length, 8)
  writer.bytes(meta)
  writer.bytes(payload)
  return writer.buffer
}

/**
 * Reads a bitstring. A `bin` message keeps its raw payload (a Buffer) and sub-type in metadata.
 *
 * The `compressed` bit means zlib (RFC 1950) on the metadata bytes AND on a JSON payload — what
 * both real clients write and read (hivemind_bus_client's cast2bytes/bytes2str, HiveMind-js's
 * decodeBitstring); a `bin` payload is raw bytes and never compressed. protocol.md §4 only says
 * "a compressed bit (zlib)"; the clients are the reference for what it covers.
 */
export function fromBitstring(data: Buffer, maxInflated: number): HiveMessage {
  const reader = new BitReader(data)
  while (reader.bits(1) === 0) {
    // Leading zero bits up to the marker.
  }
  const versioned = reader.bits(1) === 1
  if (versioned) reader.bits(8)
  const type = TYPES_BY_CODE.get(reader.bits(5))
  if (!type) throw new MessageFormatError('unknown binary type code')
  const compressed = reader.bits(1) === 1
  const metaLength = reader.bits(8)
  const inflate = (bytes: Buffer): Buffer => {
    try {
      // Bounded: a few KiB of zlib must not become gigabytes in memory.
      return inflateSync(bytes, {maxOutputLength: maxInflated})
    } catch {
      throw new MessageFormatError('bad compressed payload')
    }
  }
  let metadata: unknown = {}
  if (metaLength > 0) {
    const raw = reader.bytes(metaLength)
    const text = (compressed ? inflate(raw) : raw).toString('utf8')
    try {
      metadata = JSON.parse(text)
    } catch {
      throw new MessageFormatError('metadata is not JSON')
    }
  }
  if (type === 'bin') {
    const binType = reader.bits(4)
    return toHiveMessage({msg_type: 'bin', payload: reader.rest(), metadata: {...(isObject(metadata) ? metadata : {}), bin_type: binType}})
  }
  const payload = compressed ? inflate(reader.rest()) : reader.rest()
  let inner: unknown
  try {
    inner = JSON.parse(payload.toString('utf8'))
  } catch {
    throw new MessageFormatError('payload is not JSON')
  }
  return toHiveMessage({msg_type: type, payload: inner, metadata})
}
