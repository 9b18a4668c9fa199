/**
 * The text encodings of encrypted frames (protocol.md §4): how ciphertext, tag and nonce bytes are
 * written inside the JSON envelope. Decoders are strict: anything that is not exactly the
 * encoding's alphabet throws, so a garbage frame is counted as bad instead of decrypting noise.
 */

/** Encodings this server can speak, in its order of preference. */
export const ENCODINGS = ['JSON-HEX', 'JSON-B64', 'JSON-URLSAFE-B64', 'JSON-B32'] as const
export type Encoding = (typeof ENCODINGS)[number]

/** An encoding name this server supports. */
export function isEncoding(value: unknown): value is Encoding {
  return typeof value === 'string' && (ENCODINGS as readonly string[]).includes(value)
}

/** Raised for text that is not valid in the encoding. */
export class EncodingError extends Error {}

const B32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
const B32_VALUES = new Map([...B32_ALPHABET].map((char, index) => [char, index]))

/** Bytes → text in the encoding. */
export function encodeBytes(encoding: Encoding, bytes: Uint8Array): string {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  switch (encoding) {
    case 'JSON-HEX': {
      return buffer.toString('hex')
    }
    case 'JSON-B64': {
      return buffer.toString('base64')
    }
    case 'JSON-URLSAFE-B64': {
      // Python's urlsafe_b64encode keeps the padding.
      return buffer.toString('base64').replaceAll('+', '-').replaceAll('/', '_')
    }
    case 'JSON-B32': {
      return base32Encode(buffer)
    }
  }
}

/** Text in the encoding → bytes; throws EncodingError on anything else. */
export function decodeText(encoding: Encoding, text: unknown): Buffer {
  if (typeof text !== 'string') throw new EncodingError('not a string')
  switch (encoding) {
    case 'JSON-HEX': {
      // Node stops decoding hex at the first pair that is not hex: a short result is the check
      // (a regular expression over every frame's text cost a tenth of relaying it).
      const bytes = Buffer.from(text, 'hex')
      if (bytes.length * 2 !== text.length) throw new EncodingError('not hex')
      return bytes
    }
    case 'JSON-B64': {
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 === 1) throw new EncodingError('not base64')
      return Buffer.from(text, 'base64')
    }
    case 'JSON-URLSAFE-B64': {
      if (!/^[A-Za-z0-9_-]*={0,2}$/.test(text) || text.length % 4 === 1) throw new EncodingError('not url-safe base64')
      return Buffer.from(text, 'base64url')
    }
    case 'JSON-B32': {
      return base32Decode(text)
    }
  }
}

/** RFC 4648 base32 with padding (what Python's base64.b32encode writes). */
export function base32Encode(bytes: Uint8Array): string {
  let out = ''
  let bits = 0
  let value = 0
  for (const byte of bytes) {
    value = (value << 8) | byte
    bits += 8
    while (bits >= 5) {
      out += B32_ALPHABET[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
    value &= (1 << bits) - 1
  }
  if (bits > 0) out += B32_ALPHABET[(value << (5 - bits)) & 31]
  while (out.length % 8 !== 0) out += '='
  return out
}

/** RFC 4648 base32; padding optional, case-insensitive. */
export function base32Decode(text: string): Buffer {
  const body = text.replace(/=+$/, '').toUpperCase()
  // Valid unpadded lengths modulo 8 are 0, 2, 4, 5, 7.
  if ([1, 3, 6].includes(body.length % 8)) throw new EncodingError('bad base32 length')
  const out: number[] = []
  let bits = 0
  let value = 0
  for (const char of body) {
    const digit = B32_VALUES.get(char)
    if (digit === undefined) throw new EncodingError('not base32')
    value = (value << 5) | digit
    bits += 5
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255)
      bits -= 8
    }
    value &= (1 << bits) - 1
  }
  return Buffer.from(out)
}
