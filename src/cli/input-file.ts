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
    throw new InvalidInputError(`cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`)
  }
}
