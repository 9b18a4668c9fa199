/**
 * Reading a file the operator named on the command line (import-clients, restore-db).
 */
import {readFileSync} from 'node:fs'
import path from 'node:path'

import {InvalidInputError} from '../core/errors.js'

/** The absolute path and UTF-8 text of `argument`, or a one-line error naming the file. */
export function readInputFile(argument: string): {file: string; text: string} {
  const file = path.resolve(argument)
  try {
    return {file, text: readFileSync(file, 'utf8')}
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error'
    const what = WHAT_WENT_WRONG[code]
    throw new InvalidInputError(`cannot read ${file}: ${what ? `${what} (${code})` : code}`, {
      suggestion: code === 'ENOENT' ? 'check the file name (a relative one is taken from the current directory)' : code === 'EISDIR' ? 'name the file itself, not its directory' : 'check the file and its permissions',
    })
  }
}

/** The common reasons in words. */
const WHAT_WENT_WRONG: Record<string, string> = {
  ENOENT: 'no such file',
  EISDIR: 'it is a directory',
  EACCES: 'permission denied',
  ENOTDIR: 'a part of the path is a file, not a directory',
}
