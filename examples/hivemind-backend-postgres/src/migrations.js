// @ts-check
/**
 * Versioned schema changes, run explicitly by open() (never `synchronize`), each in its own
 * transaction, while holding an advisory lock so that processes opening a new database at the
 * same moment do not race. Add new ones at the end; never edit a released one.
 */
import {CLIENTS_TABLE, META_TABLE} from './entity.js'

/** The table TypeORM records applied migrations in. */
export const MIGRATIONS_TABLE = 'hivemind_migrations'

/** @implements {import('typeorm').MigrationInterface} */
export class CreateClients1730000000001 {
  name = 'CreateClients1730000000001'

  /** @param {import('typeorm').QueryRunner} runner */
  async up(runner) {
    await runner.query(`CREATE TABLE ${CLIENTS_TABLE} (
      client_id bigint PRIMARY KEY CHECK (client_id > 0),
      api_key varchar(255) NOT NULL,
      name varchar(255) NOT NULL DEFAULT '',
      description varchar(255) NOT NULL DEFAULT '',
      is_admin boolean NOT NULL DEFAULT false,
      last_seen double precision NOT NULL DEFAULT -1,
      intent_blacklist json NOT NULL DEFAULT '[]',
      skill_blacklist json NOT NULL DEFAULT '[]',
      message_blacklist json NOT NULL DEFAULT '[]',
      allowed_types json NOT NULL DEFAULT '[]',
      crypto_key varchar(16),
      password text,
      can_broadcast boolean NOT NULL DEFAULT true,
      can_escalate boolean NOT NULL DEFAULT true,
      can_propagate boolean NOT NULL DEFAULT true,
      metadata json NOT NULL DEFAULT '{}'
    )`)
    // One live client per access key; tombstones all share the key "revoked". Also the index
    // that makes getByApiKey a lookup (its WHERE matches the index predicate).
    await runner.query(`CREATE UNIQUE INDEX ${CLIENTS_TABLE}_live_api_key ON ${CLIENTS_TABLE} (api_key) WHERE api_key <> 'revoked'`)
    // The id counter (ids are never reused, even after the highest record is removed) and the
    // revision counter (bumped by every write, polled by `listen`).
    await runner.query(`CREATE TABLE ${META_TABLE} (key text PRIMARY KEY, value bigint NOT NULL)`)
    await runner.query(`INSERT INTO ${META_TABLE} (key, value) VALUES ('next_client_id', 1), ('revision', 0)`)
  }

  /** @param {import('typeorm').QueryRunner} runner */
  async down(runner) {
    await runner.query(`DROP TABLE ${META_TABLE}`)
    await runner.query(`DROP TABLE ${CLIENTS_TABLE}`)
  }
}

/** Every migration, oldest first. */
export const MIGRATIONS = [CreateClients1730000000001]
