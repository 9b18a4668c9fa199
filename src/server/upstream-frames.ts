/**
 * What listen takes from the Python hub's frame settings in server.json: `allowed_ciphers` and
 * `allowed_encodings` restrict what the handshake offers (an operator who allowed only
 * CHACHA20-POLY1305 there must not find AES-GCM agreed here; QA), `binarize` is --binarize's
 * default. Names hivemind-core does not speak are passed over: the Python hub's default lists
 * hold encodings it does not have (JSON-B91, JSON-Z85B, JSON-Z85P).
 */
import type {AllowedNames, UpstreamConfig} from '../config/upstream.js'
import {InvalidInputError} from '../core/errors.js'
import {CIPHERS} from './ciphers.js'
import {ENCODINGS} from './encodings.js'
import {type CryptoOffer, DEFAULT_OFFER} from './handshake.js'

/** The offer server.json allows: ours, in our order of preference, less what it leaves out. */
export function offerAllowedBy(upstream: UpstreamConfig | undefined): CryptoOffer {
  if (!upstream) return DEFAULT_OFFER
  return {
    ciphers: allowed(CIPHERS, upstream.allowedCiphers, 'ciphers', upstream.file),
    encodings: allowed(ENCODINGS, upstream.allowedEncodings, 'encodings', upstream.file),
  }
}

function allowed<T extends string>(ours: readonly T[], theirs: AllowedNames | undefined, what: string, file: string): readonly T[] {
  if (!theirs) return ours
  if (theirs.malformed) {
    throw new InvalidInputError(`${file}: ${theirs.key} is not a list of names, so which ${what} it allows cannot be told`, {
      suggestion: `write it as a list, e.g. "${theirs.key}": ${JSON.stringify(ours)}, or remove it to allow them all`,
    })
  }
  const kept = ours.filter((name) => theirs.value.includes(name))
  if (kept.length > 0) return kept
  // Serving anyway would offer what the operator did not allow; serving nothing, connect nobody.
  throw new InvalidInputError(`${file}: ${theirs.key} allows none of the ${what} hivemind-core speaks (${ours.join(', ')})`, {
    suggestion: `add one of them to ${theirs.key}, or remove the key to allow them all`,
  })
}
