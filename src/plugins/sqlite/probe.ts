/**
 * Looks into a SQLite file without TypeORM and without writing (for the agreement guard): the
 * file is left byte-identical and nothing is left beside it (see reader.ts).
 */
import {existsSync} from 'node:fs'

import type {StoreProbe} from '../../core/store.js'
import {openReader} from './reader.js'

export function probeSqliteFile(file: string): StoreProbe {
  if (!existsSync(file)) return {exists: false, location: file}
  try {
    const db = openReader(file, 1000)
    try {
      const row = db.prepare("SELECT COUNT(*) AS n FROM clients WHERE api_key != 'revoked'").get() as {n: number}
      return {exists: true, clients: row.n, location: file}
    } finally {
      db.close()
    }
  } catch {
    return {exists: true, location: file}
  }
}
