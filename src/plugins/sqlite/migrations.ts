/**
 * Versioned schema changes, applied explicitly on open inside one IMMEDIATE transaction (never
 * `synchronize`). The first one creates the upstream table exactly as the Python hivemind-core
 * does, so that files it created and files we create have the same shape; every later one must
 * also work on an upstream file (which may lack `metadata` and has no index).
 */
import type {MigrationInterface, QueryRunner} from 'typeorm'

import {StoreCorruptError} from '../../core/errors.js'

/** The upstream `clients` table (no-op on an existing upstream file). */
export class UpstreamClientsTable1700000000001 implements MigrationInterface {
  name = 'UpstreamClientsTable1700000000001'

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`CREATE TABLE IF NOT EXISTS clients (
      client_id INTEGER PRIMARY KEY,
      api_key VARCHAR(255) NOT NULL,
      name VARCHAR(255),
      description VARCHAR(255),
      is_admin BOOLEAN DEFAULT FALSE,
      last_seen REAL DEFAULT -1,
      intent_blacklist TEXT,
      skill_blacklist TEXT,
      message_blacklist TEXT,
      allowed_types TEXT,
      crypto_key VARCHAR(16),
      password TEXT,
      can_broadcast BOOLEAN DEFAULT TRUE,
      can_escalate BOOLEAN DEFAULT TRUE,
      can_propagate BOOLEAN DEFAULT TRUE
    )`)
  }

  async down(): Promise<void> {
    // Dropping a user's client table is never a migration step.
  }
}

/** The `metadata` column of newer upstream files, added when missing. */
export class MetadataColumn1700000000002 implements MigrationInterface {
  name = 'MetadataColumn1700000000002'

  async up(runner: QueryRunner): Promise<void> {
    const columns = (await runner.query('PRAGMA table_info(clients)')) as Array<{name: string}>
    if (!columns.some((column) => column.name === 'metadata')) {
      await runner.query('ALTER TABLE clients ADD COLUMN metadata TEXT')
    }
  }

  async down(): Promise<void> {}
}

/**
 * One live client per access key, and the index that makes `getByApiKey` a lookup rather than a
 * scan. Partial: tombstones all share the key "revoked".
 */
export class UniqueLiveApiKey1700000000003 implements MigrationInterface {
  name = 'UniqueLiveApiKey1700000000003'

  async up(runner: QueryRunner): Promise<void> {
    const duplicates = (await runner.query(
      `SELECT group_concat(client_id) AS ids FROM clients WHERE api_key != 'revoked' GROUP BY api_key HAVING COUNT(*) > 1`,
    )) as Array<{ids: string}>
    if (duplicates.length > 0) {
      throw new StoreCorruptError(
        `clients ${duplicates.map((row) => row.ids).join('; ')} share an access key, so which satellite is which is ambiguous`,
        {suggestion: 'revoke all but one of each group with the Python hivemind-core, or fix the rows with sqlite3, then retry'},
      )
    }
    await runner.query(`CREATE UNIQUE INDEX IF NOT EXISTS clients_live_api_key ON clients (api_key) WHERE api_key != 'revoked'`)
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP INDEX IF EXISTS clients_live_api_key')
  }
}

/**
 * The id counter owned by the store: ids are never reused, even if the highest record is
 * replaced or removed by another tool. Seeded past the highest existing id.
 */
export class IdCounter1700000000004 implements MigrationInterface {
  name = 'IdCounter1700000000004'

  async up(runner: QueryRunner): Promise<void> {
    await runner.query('CREATE TABLE IF NOT EXISTS hivemind_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)')
    await runner.query(
      `INSERT OR IGNORE INTO hivemind_meta (key, value) SELECT 'next_client_id', COALESCE(MAX(client_id), 0) + 1 FROM clients`,
    )
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE IF EXISTS hivemind_meta')
  }
}

/** Every migration, oldest first. */
export const MIGRATIONS = [UpstreamClientsTable1700000000001, MetadataColumn1700000000002, UniqueLiveApiKey1700000000003, IdCounter1700000000004]

/** The table TypeORM records applied migrations in. */
export const MIGRATIONS_TABLE = 'hivemind_migrations'
