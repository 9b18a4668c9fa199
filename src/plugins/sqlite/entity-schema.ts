/**
 * The TypeORM mapping of the upstream `clients` table. Every column has an explicit type (tsx
 * emits no decorator metadata, hence an EntitySchema). Imports TypeORM: loaded by the store only
 * when it runs migrations or a write through the entity manager, never for a read.
 */
import type {ValueTransformer} from 'typeorm'

import {requireCjs} from '../../core/require-cjs.js'
import type {ClientRow} from './entity.js'

const {EntitySchema} = requireCjs('typeorm') as typeof import('typeorm')

/** JSON text ⇄ value. Unparsable text is reported by rowToRecord, never guessed. */
const jsonText: ValueTransformer = {
  to: (value: unknown) => (value === undefined ? undefined : JSON.stringify(value)),
  from: (value: unknown) => value,
}

/** The entity: the stored row shape (conversion to records happens in rowToRecord). */
export const ClientEntity = new EntitySchema<ClientRow>({
  name: 'Client',
  tableName: 'clients',
  columns: {
    client_id: {type: 'integer', primary: true},
    api_key: {type: 'varchar', length: 255},
    name: {type: 'varchar', length: 255, nullable: true},
    description: {type: 'varchar', length: 255, nullable: true},
    is_admin: {type: 'boolean', default: false},
    last_seen: {type: 'real', default: -1},
    intent_blacklist: {type: 'text', nullable: true, transformer: jsonText},
    skill_blacklist: {type: 'text', nullable: true, transformer: jsonText},
    message_blacklist: {type: 'text', nullable: true, transformer: jsonText},
    allowed_types: {type: 'text', nullable: true, transformer: jsonText},
    crypto_key: {type: 'varchar', length: 16, nullable: true},
    password: {type: 'text', nullable: true},
    can_broadcast: {type: 'boolean', default: true},
    can_escalate: {type: 'boolean', default: true},
    can_propagate: {type: 'boolean', default: true},
    metadata: {type: 'text', nullable: true, transformer: jsonText},
  },
})
