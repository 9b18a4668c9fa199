/**
 * Authentication of a new connection (protocol.md §1): the `authorization` query parameter,
 * BASE64("useragent:access_key"), read raw (real clients do not percent-encode `+ / =`), and the
 * store lookup. A failing store is never reported as a bad key.
 */
import type {ClientRecord} from '../core/client.js'
import {REVOKED_API_KEY} from '../core/client.js'
import type {ClientStore} from '../core/store.js'

/** What the authorization header carried. */
export interface Credentials {
  userAgent: string
  accessKey: string
}

/** Longest authorization value considered (a 16 KiB URL is already absurd). */
const MAX_AUTHORIZATION = 4096

/**
 * The credentials in a request URL (`/?authorization=…` or `?authorization=…`), or undefined
 * when absent or undecodable. Never throws.
 */
export function parseAuthorization(url: string | undefined): Credentials | undefined {
  if (!url) return undefined
  const query = url.indexOf('?')
  if (query < 0) return undefined
  let raw: string | undefined
  for (const part of url.slice(query + 1).split('&')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq) === 'authorization') {
      raw = part.slice(eq + 1)
      break
    }
  }
  if (raw === undefined || raw === '' || raw.length > MAX_AUTHORIZATION) return undefined
  // A form-decoding proxy may have turned `+` into a space; only percent-decode when `%` is there.
  raw = raw.replaceAll(' ', '+')
  if (raw.includes('%')) {
    try {
      raw = decodeURIComponent(raw)
    } catch {
      return undefined
    }
  }
  // Standard or URL-safe base64, padding optional; nothing else.
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(raw) || raw.replace(/=+$/, '').length % 4 === 1) return undefined
  const decoded = Buffer.from(raw.replaceAll('-', '+').replaceAll('_', '/'), 'base64')
  const text = new TextDecoder('utf-8', {fatal: false}).decode(decoded)
  const colon = text.indexOf(':')
  if (colon < 0) return undefined
  const accessKey = text.slice(colon + 1)
  if (accessKey === '' || accessKey.length > 1024) return undefined
  return {userAgent: text.slice(0, colon), accessKey}
}

/** The outcome of authenticating one connection. */
export type AuthResult =
  | {ok: true; client: ClientRecord; userAgent: string}
  | {ok: false; reason: 'malformed' | 'unknown' | 'revoked' | 'no-secret'; closeCode: 1008}
  | {ok: false; reason: 'store-unavailable'; closeCode: 1013; error: unknown}

/** Looks the credentials up. Store failures become "store-unavailable" (close 1013), never "unknown". */
export async function authenticate(store: ClientStore, credentials: Credentials | undefined): Promise<AuthResult> {
  if (!credentials) return {ok: false, reason: 'malformed', closeCode: 1008}
  // The tombstone marker never authenticates, whatever a backend would return for it.
  if (credentials.accessKey === REVOKED_API_KEY) return {ok: false, reason: 'revoked', closeCode: 1008}
  let client: ClientRecord | undefined
  try {
    client = await store.getByApiKey(credentials.accessKey)
  } catch (error) {
    return {ok: false, reason: 'store-unavailable', closeCode: 1013, error}
  }
  if (!client) return {ok: false, reason: 'unknown', closeCode: 1008}
  if (client.api_key === REVOKED_API_KEY || client.api_key !== credentials.accessKey) return {ok: false, reason: 'revoked', closeCode: 1008}
  if (!client.password && !usableCryptoKey(client.crypto_key)) return {ok: false, reason: 'no-secret', closeCode: 1008}
  return {ok: true, client, userAgent: credentials.userAgent}
}

/** The legacy pre-shared key as AES key bytes, when it is one (16, 24 or 32 UTF-8 bytes). */
export function legacyKey(cryptoKey: string | null | undefined): Buffer | undefined {
  if (!cryptoKey) return undefined
  const bytes = Buffer.from(cryptoKey, 'utf8')
  return [16, 24, 32].includes(bytes.length) ? bytes : undefined
}

function usableCryptoKey(cryptoKey: string | null): boolean {
  return legacyKey(cryptoKey) !== undefined
}
