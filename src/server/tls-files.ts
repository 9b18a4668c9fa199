/**
 * The certificate and key of `listen --ssl`, read and checked before the store is opened or a
 * port bound: a wrong path, a file that is not PEM or a key from another pair is one line naming
 * the flag and the file, instead of a generic "cannot listen" after the database was opened.
 */
import {readFileSync} from 'node:fs'
import path from 'node:path'
import {createSecureContext} from 'node:tls'

import {InvalidInputError} from '../core/errors.js'

/** PEM contents ready for `https.createServer`. */
export interface TlsMaterial {
  cert: Buffer
  key: Buffer
}

/** Reads and checks the pair; throws InvalidInputError (exit 1) naming what is wrong. */
export function loadTlsMaterial(certPath: string, keyPath: string): TlsMaterial {
  const cert = readPem('--cert', certPath)
  const key = readPem('--key', keyPath)
  // Each half alone first, so the message can say which file is not what it should be.
  check(() => createSecureContext({cert}), `--cert ${path.resolve(certPath)} is not a PEM certificate`)
  check(() => createSecureContext({key}), `--key ${path.resolve(keyPath)} is not a PEM private key (or it is encrypted)`)
  check(() => createSecureContext({cert, key}), `--key ${path.resolve(keyPath)} does not belong to the certificate in --cert ${path.resolve(certPath)}`)
  return {cert, key}
}

function readPem(flag: string, file: string): Buffer {
  try {
    return readFileSync(file)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable'
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : code
    throw new InvalidInputError(`${flag} ${path.resolve(file)} cannot be read (${why})`, {cause: error, suggestion: 'pass the PEM files of the certificate and its private key'})
  }
}

function check(attempt: () => unknown, message: string): void {
  try {
    attempt()
  } catch (error) {
    // OpenSSL's own reason (e.g. "key values mismatch") helps; it never carries key material.
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error)
    throw new InvalidInputError(`${message} (${reason})`, {cause: error})
  }
}
