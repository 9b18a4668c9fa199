/**
 * Checks shared by every store, so that no backend can persist a malformed record, and the
 * input rules of the client-management commands.
 */
import {type ClientRecord, hasRecordShape, parseClientRecord} from './client.js'
import {InvalidInputError, StoreCorruptError} from './errors.js'

/** Throws InvalidInputError unless the record is well-formed (types, positive id, non-empty key). */
export function assertStorableRecord(record: ClientRecord): void {
  // Every record of a bulk copy passes here: those shaped like a record skip the parse's copy.
  if (!hasRecordShape(record)) {
    try {
      parseClientRecord(record, `client ${record.client_id}`)
    } catch (error) {
      if (error instanceof StoreCorruptError) throw new InvalidInputError(error.message)
      throw error
    }
  }
  if (record.api_key.length === 0) throw new InvalidInputError(`client ${record.client_id}: the access key must not be empty`)
}

/** Longest name / description accepted (the upstream SQLite columns are VARCHAR(255)). */
export const MAX_TEXT_LENGTH = 255
/** Longest access key or password accepted. */
export const MAX_SECRET_LENGTH = 255
/** Length of a legacy crypto key (AES-128). */
export const CRYPTO_KEY_LENGTH = 16

// C0 controls, DEL and C1 controls: never part of a name, key or bus message type.
const CONTROL_CHARACTERS = /[\u0000-\u001F\u007F-\u009F]/

/** A printable single-line text of bounded length (names, descriptions). */
export function checkText(value: string, what: string, max = MAX_TEXT_LENGTH): string {
  if (CONTROL_CHARACTERS.test(value)) throw new InvalidInputError(`${what} must not contain control characters (newline, NUL, …)`)
  if ([...value].length > max) throw new InvalidInputError(`${what} is too long (${[...value].length} characters; at most ${max})`)
  return value
}

/**
 * A client's name as add-client and rename-client take it: {@link checkText}, and not blank (an
 * empty name shows as nothing in every listing; leaving --name out gives HiveMind-Node-<id>).
 * Names already stored, or imported, are not judged by this.
 */
export function checkName(value: string): string {
  checkText(value, 'the name')
  if (value.trim().length === 0) {
    throw new InvalidInputError(`the name must not be ${value.length === 0 ? 'empty' : 'blank'}`, {suggestion: 'give a name with a visible character (add-client without --name names the client HiveMind-Node-<id>)'})
  }
  return value
}

/**
 * A secret given on the command line (access key, password, crypto key). The value itself never
 * appears in the error message.
 */
export function checkSecret(value: string, what: string, exactLength?: number): string {
  if (value.length === 0) throw new InvalidInputError(`${what} must not be empty`)
  if (CONTROL_CHARACTERS.test(value) || /\s/.test(value)) throw new InvalidInputError(`${what} must not contain spaces or control characters`)
  if (exactLength !== undefined && [...value].length !== exactLength) {
    throw new InvalidInputError(`${what} must be exactly ${exactLength} characters (got ${[...value].length})`)
  }
  // The crypto key is the AES key's bytes (UTF-8, as the satellites encode it): 'é' takes two of
  // them, and a key of 17 bytes is one the listener cannot use (QA: accepted, then never worked).
  if (exactLength !== undefined && Buffer.byteLength(value, 'utf8') !== exactLength) {
    throw new InvalidInputError(`${what} must be ${exactLength} ASCII characters (it holds characters of more than one byte, ${Buffer.byteLength(value, 'utf8')} bytes in all)`, {suggestion: 'use letters, digits and ASCII punctuation only'})
  }
  if ([...value].length > MAX_SECRET_LENGTH) throw new InvalidInputError(`${what} is too long (at most ${MAX_SECRET_LENGTH} characters)`)
  return value
}

/** A bus message type, skill id or intent id: non-empty, no whitespace or control characters. */
export function checkIdentifier(value: string, what: string): string {
  if (value.length === 0) throw new InvalidInputError(`${what} must not be empty`)
  if (CONTROL_CHARACTERS.test(value) || /\s/.test(value)) throw new InvalidInputError(`${what} must not contain spaces or control characters`)
  if ([...value].length > MAX_TEXT_LENGTH) throw new InvalidInputError(`${what} is too long (at most ${MAX_TEXT_LENGTH} characters)`)
  return value
}

/** The argument of `ClientStore.reserveIds`: a whole number, 0 or more. */
export function assertReservableId(id: number): void {
  if (!Number.isSafeInteger(id) || id < 0) throw new InvalidInputError(`an id to reserve must be a whole number, 0 or more, got ${id}`)
}
