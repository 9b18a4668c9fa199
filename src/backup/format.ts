/**
 * The backup file format (docs/security.md describes it for people):
 *
 * Plain backup, UTF-8 text:
 *   line 1   header: {"format":"hivemind-core-backup","version":1,"encrypted":false,"backend":…,
 *            "location":…,"createdAt":…,"count":N,"sha256":…}; sha256 is the hex SHA-256 of the header
 *            line WITHOUT its sha256 member, a newline, and the body (so every header field is covered)
 *   line 2…  the body: N lines, each the canonical JSON of one record (tombstones included), in id order
 *
 * Encrypted backup, UTF-8 text:
 *   line 1   header: {"format":"hivemind-core-backup","version":1,"encrypted":true,"backend":…,
 *            "location":…,"createdAt":…,"count":N,"kdf":{"name":"scrypt","N":…,"r":…,"p":…,"salt":<b64>},
 *            "cipher":{"name":"aes-256-gcm","iv":<b64>},"check":<b64>}
 *   line 2   base64 of AES-256-GCM(ciphertext ‖ 16-byte tag) of the complete PLAIN backup above;
 *            the header line's bytes are the additional authenticated data, so no header field can
 *            be altered either.
 *
 * scrypt(passphrase, salt, 64 bytes): the first 32 bytes are the AES key, the last 32 derive
 * `check` = SHA-256("hivemind-core-backup check" ‖ bytes) — it tells a wrong passphrase from a
 * damaged file and costs a guesser exactly one scrypt run, as the cipher itself does.
 */
import {createCipheriv, createDecipheriv, createHash, randomBytes, scrypt as scryptCallback, type ScryptOptions, timingSafeEqual} from 'node:crypto'

import {canonicalJson, type ClientRecord, isRevoked, parseClientRecord} from '../core/client.js'
import {HivemindError, InvalidInputError} from '../core/errors.js'

/** `format` of every backup header. */
export const BACKUP_FORMAT = 'hivemind-core-backup'
/** Current format version. */
export const BACKUP_VERSION = 1

/**
 * scrypt cost: N = 2^17, r = 8, p = 1 → 128 MiB of memory and a few hundred ms per attempt
 * (the OWASP recommendation for scrypt as of 2024). Stored in the header, so it can grow later.
 */
export const DEFAULT_SCRYPT = {N: 2 ** 17, r: 8, p: 1} as const
/** Upper bounds accepted when READING (a hostile header must not ask for gigabytes). */
const MAX_SCRYPT_N = 2 ** 20
const MAX_SCRYPT_R = 32
const MAX_SCRYPT_P = 16

/** What a backup header says about its content. */
export interface BackupHeader {
  format: typeof BACKUP_FORMAT
  version: number
  encrypted: boolean
  /** Backend the records were read from, e.g. "sqlite". */
  backend: string
  /** Its location (never holds a secret), e.g. "/home/u/.local/share/hivemind-core/clients.db". */
  location: string
  /** ISO time the backup was taken. */
  createdAt: string
  /** Number of records, tombstones included. */
  count: number
  /** Plain backups: SHA-256 (hex) of the body. */
  sha256?: string
  /** Encrypted backups: the key derivation. */
  kdf?: {name: 'scrypt'; N: number; r: number; p: number; salt: string}
  /** Encrypted backups: the cipher. */
  cipher?: {name: 'aes-256-gcm'; iv: string}
  /** Encrypted backups: passphrase check value (see the module comment). */
  check?: string
}

/** A verified backup, ready to restore. */
export interface ParsedBackup {
  header: BackupHeader
  /** The header of the plain backup inside (equal to `header` for plain files). */
  inner: BackupHeader
  records: ClientRecord[]
}

/** A backup that cannot be used: wrong passphrase, damaged, truncated or not a backup at all. */
export class BackupError extends HivemindError {
  constructor(message: string, suggestion?: string) {
    super('INVALID_INPUT', message, suggestion ? {suggestion} : {})
  }
}

/**
 * Two live clients holding one access key (a hand-edited Redis hive can): no backend stores
 * that, so a restore of it would fail halfway, after --force had emptied the target (QA).
 * Returns the two ids, the first holder first.
 */
export function sharedAccessKey(records: readonly ClientRecord[]): [number, number] | undefined {
  const holders = new Map<string, number>()
  for (const record of records) {
    if (isRevoked(record)) continue
    const holder = holders.get(record.api_key)
    if (holder !== undefined) return [holder, record.client_id]
    holders.set(record.api_key, record.client_id)
  }
  return undefined
}

/**
 * Builds the plain backup text of `records` (sorted by id here, whatever the caller's order).
 * Refuses records that could not be restored (two clients sharing an access key).
 */
export function buildPlainBackup(records: readonly ClientRecord[], source: {backend: string; location: string}, createdAt = new Date()): string {
  const sorted = [...records].sort((a, b) => a.client_id - b.client_id)
  const shared = sharedAccessKey(sorted)
  if (shared) {
    throw new HivemindError('STORE_CORRUPT', `${source.location}: clients ${shared[0]} and ${shared[1]} share an access key, so a backup of it could not be restored; nothing was written`, {
      suggestion: 'see how to repair it with: hivemind-core doctor; then back up again',
    })
  }
  const body = sorted.map((record) => `${canonicalJson(record)}\n`).join('')
  const unsigned: BackupHeader = {
    format: BACKUP_FORMAT,
    version: BACKUP_VERSION,
    encrypted: false,
    backend: source.backend,
    location: source.location,
    createdAt: createdAt.toISOString(),
    count: sorted.length,
  }
  const header: BackupHeader = {...unsigned, sha256: sha256Hex(`${JSON.stringify(unsigned)}\n${body}`)}
  return `${JSON.stringify(header)}\n${body}`
}

/** Encrypts a plain backup text with a passphrase (see the module comment for the layout). */
export async function encryptBackup(plain: string, passphrase: string, cost: {N: number; r: number; p: number} = DEFAULT_SCRYPT): Promise<string> {
  checkPassphrase(passphrase)
  const innerHeader = parseHeaderLine(plain.slice(0, plain.indexOf('\n')), 'the backup')
  const salt = randomBytes(16)
  const iv = randomBytes(12)
  const derived = await deriveKey(passphrase, salt, cost)
  const header: BackupHeader = {
    format: BACKUP_FORMAT,
    version: BACKUP_VERSION,
    encrypted: true,
    backend: innerHeader.backend,
    location: innerHeader.location,
    createdAt: innerHeader.createdAt,
    count: innerHeader.count,
    kdf: {name: 'scrypt', ...cost, salt: salt.toString('base64')},
    cipher: {name: 'aes-256-gcm', iv: iv.toString('base64')},
    check: checkValue(derived).toString('base64'),
  }
  const headerLine = JSON.stringify(header)
  const cipher = createCipheriv('aes-256-gcm', derived.subarray(0, 32), iv)
  cipher.setAAD(Buffer.from(headerLine, 'utf8'))
  const sealed = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()])
  derived.fill(0)
  return `${headerLine}\n${sealed.toString('base64')}\n`
}

/** Reads only the header (to know whether a passphrase is needed, and to describe the file). */
export function readBackupHeader(text: string, file: string): BackupHeader {
  const end = text.indexOf('\n')
  return parseHeaderLine(end === -1 ? text : text.slice(0, end), file)
}

/**
 * Parses and verifies a whole backup: decrypts it (encrypted files need `passphrase`), checks the
 * checksum, the count, and that every line is a valid record in canonical form with a unique id.
 * Any failure is a BackupError; nothing is returned from a file that does not verify.
 */
export async function parseBackup(text: string, file: string, passphrase?: string): Promise<ParsedBackup> {
  const header = readBackupHeader(text, file)
  if (!header.encrypted) return {header, inner: header, records: parsePlainBody(text, header, file)}
  if (passphrase === undefined) throw new BackupError(`${file} is encrypted: a passphrase is needed`, 'set HIVEMIND_BACKUP_PASSPHRASE or run on a terminal to be asked')
  const plain = await decrypt(text, header, file, passphrase)
  const inner = readBackupHeader(plain, `${file} (decrypted)`)
  if (inner.encrypted) throw new BackupError(`${file}: the decrypted content is not a plain backup`)
  if (inner.count !== header.count || inner.backend !== header.backend) {
    throw new BackupError(`${file}: the outer and inner headers disagree; the file is damaged`)
  }
  return {header, inner, records: parsePlainBody(plain, inner, `${file} (decrypted)`)}
}

async function decrypt(text: string, header: BackupHeader, file: string, passphrase: string): Promise<string> {
  const {kdf, cipher, check} = header
  if (!kdf || kdf.name !== 'scrypt' || !cipher || cipher.name !== 'aes-256-gcm' || typeof check !== 'string') {
    throw new BackupError(`${file}: unsupported or missing encryption parameters in the header`)
  }
  if (![kdf.N, kdf.r, kdf.p].every((value) => Number.isSafeInteger(value) && value > 0) || kdf.N > MAX_SCRYPT_N || kdf.r > MAX_SCRYPT_R || kdf.p > MAX_SCRYPT_P || (kdf.N & (kdf.N - 1)) !== 0) {
    throw new BackupError(`${file}: the header asks for scrypt parameters out of range; the file is damaged`)
  }
  const salt = decodeBase64(kdf.salt, file, 'salt')
  const iv = decodeBase64(cipher.iv, file, 'iv')
  const expectedCheck = decodeBase64(check, file, 'check')
  const newline = text.indexOf('\n')
  const headerLine = text.slice(0, newline)
  const rest = text.slice(newline + 1)
  const payloadText = rest.endsWith('\n') ? rest.slice(0, -1) : rest
  if (payloadText.length === 0 || payloadText.includes('\n') || !/^[A-Za-z0-9+/]*={0,2}$/.test(payloadText)) {
    throw new BackupError(`${file}: the encrypted payload is missing or damaged (truncated?)`)
  }
  const sealed = Buffer.from(payloadText, 'base64')
  if (sealed.length < 17) throw new BackupError(`${file}: the encrypted payload is truncated`)

  const derived = await deriveKey(passphrase, salt, kdf)
  try {
    const actualCheck = checkValue(derived)
    if (actualCheck.length !== expectedCheck.length || !timingSafeEqual(actualCheck, expectedCheck)) {
      throw new BackupError(`${file}: wrong passphrase (or the key-derivation part of the header was altered)`, 'check the passphrase (HIVEMIND_BACKUP_PASSPHRASE); nothing was written')
    }
    const decipher = createDecipheriv('aes-256-gcm', derived.subarray(0, 32), iv)
    decipher.setAAD(Buffer.from(headerLine, 'utf8'))
    decipher.setAuthTag(sealed.subarray(sealed.length - 16))
    try {
      return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)), decipher.final()]).toString('utf8')
    } catch {
      throw new BackupError(`${file}: the passphrase is right but the file was modified or is truncated (authentication failed)`, 'restore from another copy; nothing was written')
    }
  } finally {
    derived.fill(0)
  }
}

function parsePlainBody(text: string, header: BackupHeader, file: string): ClientRecord[] {
  if (typeof header.sha256 !== 'string') throw new BackupError(`${file}: the header has no checksum`)
  const body = text.slice(text.indexOf('\n') + 1)
  const {sha256: _sha256, ...unsigned} = header
  if (sha256Hex(`${JSON.stringify(unsigned)}\n${body}`) !== header.sha256) {
    throw new BackupError(`${file}: checksum mismatch: the file is truncated or was modified`, 'restore from another copy; nothing was written')
  }
  const lines = body.split('\n')
  if (lines.pop() !== '') throw new BackupError(`${file}: the last line is incomplete (truncated?)`)
  if (lines.length !== header.count) throw new BackupError(`${file}: the header says ${header.count} record(s), the file holds ${lines.length}`)
  const seen = new Set<number>()
  const records = lines.map((line, index) => {
    const where = `${file}: line ${index + 2}`
    let raw: unknown
    try {
      raw = JSON.parse(line)
    } catch {
      throw new BackupError(`${where}: not valid JSON`)
    }
    const record = parseClientRecord(raw, where)
    if (canonicalJson(record) !== line) throw new BackupError(`${where}: not a record in canonical form`)
    if (seen.has(record.client_id)) throw new BackupError(`${where}: client id ${record.client_id} appears twice`)
    seen.add(record.client_id)
    return record
  })
  // Checked before anything is written: a restore failing on it halfway would have emptied a --force target.
  const shared = sharedAccessKey(records)
  if (shared) {
    throw new BackupError(`${file}: clients ${shared[0]} and ${shared[1]} share an access key, which no database can hold`, 'revoke one of them in the database it came from and back it up again; nothing was written')
  }
  return records
}

/** restore-db reads only what backup-db writes: a clients file is import-clients' input. */
const NOT_A_BACKUP_HINT = 'a clients.json (of the Python hivemind-core too) or an export-clients file is loaded with: hivemind-core import-clients FILE'

function parseHeaderLine(line: string, file: string): BackupHeader {
  let header: unknown
  try {
    header = JSON.parse(line)
  } catch {
    throw new BackupError(`${file} is not a hivemind-core backup (its first line is not a backup header), or the header is damaged`, NOT_A_BACKUP_HINT)
  }
  const value = header as Partial<BackupHeader> | null
  if (typeof value !== 'object' || value === null || value.format !== BACKUP_FORMAT) {
    throw new BackupError(`${file} is not a hivemind-core backup (no "format":"${BACKUP_FORMAT}" header)`, NOT_A_BACKUP_HINT)
  }
  if (value.version !== BACKUP_VERSION) {
    throw new BackupError(`${file} is a backup of format version ${String(value.version)}; this hivemind-core reads version ${BACKUP_VERSION}`, 'use the hivemind-core version that wrote it')
  }
  if (typeof value.encrypted !== 'boolean' || typeof value.backend !== 'string' || typeof value.location !== 'string' || typeof value.createdAt !== 'string' || !Number.isSafeInteger(value.count) || (value.count as number) < 0) {
    throw new BackupError(`${file}: the backup header is incomplete or damaged`)
  }
  return value as BackupHeader
}

/** Refuses passphrases that protect nothing. */
export function checkPassphrase(passphrase: string): void {
  if (passphrase.length === 0) throw new InvalidInputError('the backup passphrase is empty')
  if ([...passphrase].length < 8) throw new InvalidInputError('the backup passphrase is too short (at least 8 characters)', {suggestion: 'use a long passphrase, e.g. several random words'})
}

function deriveKey(passphrase: string, salt: Buffer, cost: {N: number; r: number; p: number}): Promise<Buffer> {
  // maxmem: scrypt needs 128 * N * r bytes; Node's default cap (32 MiB) is below our default cost.
  const options: ScryptOptions = {N: cost.N, r: cost.r, p: cost.p, maxmem: 256 * cost.N * cost.r + 1024 * 1024}
  return new Promise((resolve, reject) => {
    scryptCallback(passphrase.normalize('NFC'), salt, 64, options, (error, key) => (error ? reject(error) : resolve(key)))
  })
}

function checkValue(derived: Buffer): Buffer {
  return createHash('sha256').update('hivemind-core-backup check').update(derived.subarray(32)).digest()
}

function decodeBase64(value: unknown, file: string, what: string): Buffer {
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(value)) throw new BackupError(`${file}: the header's ${what} is damaged`)
  return Buffer.from(value, 'base64')
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex')
}
