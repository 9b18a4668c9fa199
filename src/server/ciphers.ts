/**
 * Frame encryption (protocol.md §4): AES-GCM (16-byte nonce) and ChaCha20-Poly1305 (12-byte
 * nonce), 16-byte tags, as JSON envelopes `{ciphertext, tag, nonce}` in a negotiated encoding or as
 * binary frames `nonce || ciphertext || tag`.
 */
import {createCipheriv, createDecipheriv, type CipherGCMTypes, randomBytes} from 'node:crypto'

import {decodeText, type Encoding, encodeBytes} from './encodings.js'

/** Ciphers this server can speak, in its order of preference. */
export const CIPHERS = ['AES-GCM', 'CHACHA20-POLY1305'] as const
export type Cipher = (typeof CIPHERS)[number]

export const TAG_BYTES = 16

/** A cipher name this server supports. */
export function isCipher(value: unknown): value is Cipher {
  return typeof value === 'string' && (CIPHERS as readonly string[]).includes(value)
}

/** Raised when a frame cannot be decrypted (bad shape, bad encoding, wrong key, forged tag). */
export class DecryptError extends Error {}

/** Nonce length of a cipher. */
export function nonceBytes(cipher: Cipher): number {
  return cipher === 'AES-GCM' ? 16 : 12
}

function algorithm(cipher: Cipher, key: Uint8Array): CipherGCMTypes | 'chacha20-poly1305' {
  if (cipher === 'CHACHA20-POLY1305') {
    if (key.length !== 32) throw new DecryptError('ChaCha20-Poly1305 needs a 32-byte key')
    return 'chacha20-poly1305'
  }
  switch (key.length) {
    case 16: {
      return 'aes-128-gcm'
    }
    case 24: {
      return 'aes-192-gcm'
    }
    case 32: {
      return 'aes-256-gcm'
    }
    default: {
      throw new DecryptError(`no AES variant takes a ${key.length}-byte key`)
    }
  }
}

/** The three parts of an encrypted payload. */
export interface Sealed {
  ciphertext: Buffer
  tag: Buffer
  nonce: Buffer
}

/** Encrypts bytes under a fresh random nonce. */
export function seal(cipher: Cipher, key: Uint8Array, plaintext: Uint8Array): Sealed {
  const nonce = randomBytes(nonceBytes(cipher))
  // The union of algorithm names defeats createCipheriv's overloads; both are AEAD with 16-byte tags.
  const engine = createCipheriv(algorithm(cipher, key) as CipherGCMTypes, key, nonce, {authTagLength: TAG_BYTES})
  const ciphertext = Buffer.concat([engine.update(plaintext), engine.final()])
  return {ciphertext, tag: engine.getAuthTag(), nonce}
}

/** Decrypts and authenticates; throws DecryptError on any failure. */
export function open(cipher: Cipher, key: Uint8Array, sealed: Sealed): Buffer {
  if (sealed.nonce.length !== nonceBytes(cipher)) throw new DecryptError('wrong nonce length')
  if (sealed.tag.length !== TAG_BYTES) throw new DecryptError('wrong tag length')
  try {
    const engine = createDecipheriv(algorithm(cipher, key) as CipherGCMTypes, key, sealed.nonce, {authTagLength: TAG_BYTES})
    engine.setAuthTag(sealed.tag)
    return Buffer.concat([engine.update(sealed.ciphertext), engine.final()])
  } catch (error) {
    if (error instanceof DecryptError) throw error
    throw new DecryptError('authentication failed')
  }
}

/** The JSON text frame of a payload. */
export function sealJson(cipher: Cipher, encoding: Encoding, key: Uint8Array, plaintext: Uint8Array): string {
  const {ciphertext, tag, nonce} = seal(cipher, key, plaintext)
  return JSON.stringify({ciphertext: encodeBytes(encoding, ciphertext), tag: encodeBytes(encoding, tag), nonce: encodeBytes(encoding, nonce)})
}

/**
 * Opens a parsed JSON envelope. A missing `tag` means the tag is the last 16 bytes of the
 * ciphertext (what Web Crypto produces).
 */
export function openJson(cipher: Cipher, encoding: Encoding, key: Uint8Array, envelope: Record<string, unknown>): Buffer {
  let ciphertext: Buffer
  let tag: Buffer
  let nonce: Buffer
  try {
    ciphertext = decodeText(encoding, envelope.ciphertext)
    nonce = decodeText(encoding, envelope.nonce)
    if (envelope.tag === undefined || envelope.tag === null) {
      if (ciphertext.length < TAG_BYTES) throw new DecryptError('ciphertext shorter than a tag')
      tag = ciphertext.subarray(ciphertext.length - TAG_BYTES)
      ciphertext = ciphertext.subarray(0, ciphertext.length - TAG_BYTES)
    } else {
      tag = decodeText(encoding, envelope.tag)
    }
  } catch (error) {
    throw error instanceof DecryptError ? error : new DecryptError('bad encoding')
  }
  return open(cipher, key, {ciphertext, tag, nonce})
}

/** A binary frame: nonce || ciphertext || tag. */
export function sealBinary(cipher: Cipher, key: Uint8Array, plaintext: Uint8Array): Buffer {
  const {ciphertext, tag, nonce} = seal(cipher, key, plaintext)
  return Buffer.concat([nonce, ciphertext, tag])
}

/** Opens a binary frame. */
export function openBinary(cipher: Cipher, key: Uint8Array, frame: Buffer): Buffer {
  const n = nonceBytes(cipher)
  if (frame.length < n + TAG_BYTES) throw new DecryptError('binary frame too short')
  return open(cipher, key, {
    nonce: frame.subarray(0, n),
    ciphertext: frame.subarray(n, frame.length - TAG_BYTES),
    tag: frame.subarray(frame.length - TAG_BYTES),
  })
}
