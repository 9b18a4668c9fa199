/**
 * ClientDatabase: the rules of client management on top of any ClientStore — key generation,
 * input validation, node lookup by id or access key, idempotent permission changes.
 */
import {randomBytes} from 'node:crypto'

import {type ClientPatch, type ClientRecord, isRevoked, REVOKED_API_KEY} from './client.js'
import {ClientNotFoundError, DuplicateApiKeyError, InvalidInputError} from './errors.js'
import type {ClientStore} from './store.js'
import {checkIdentifier, checkName, checkSecret, checkText, CRYPTO_KEY_LENGTH} from './validate.js'

/** What `add-client` accepts. Omitted secrets are generated. */
export interface AddClientRequest {
  /** Default: `HiveMind-Node-<id>`, filled in after the id is known (upstream behaviour). */
  name?: string
  description?: string
  /** Default: 32 random hex characters (128 bits) from node:crypto. */
  accessKey?: string
  /** Default: 32 random hex characters (128 bits) from node:crypto. */
  password?: string
  /** Legacy pre-shared key; exactly 16 characters. Default: none. */
  cryptoKey?: string
  /** Default false. */
  admin?: boolean
}

/** Permission lists that hold strings. */
export type ListField = 'allowed_types' | 'message_blacklist' | 'skill_blacklist' | 'intent_blacklist'
/** Boolean permissions. */
export type FlagField = 'is_admin' | 'can_broadcast' | 'can_escalate' | 'can_propagate'

/** The outcome of an idempotent change: `changed` is false when it was already so. */
export interface ChangeResult {
  changed: boolean
  record: ClientRecord
}

/** 128 random bits as 32 lower-case hex characters. */
export function generateSecret(): string {
  return randomBytes(16).toString('hex')
}

/**
 * Checks what add-client was given, before anything is opened (a rejected call must not even
 * create a database file). Throws InvalidInputError; never echoes a secret.
 */
export function validateAddRequest(request: AddClientRequest, options: {blankNameAllowed?: boolean} = {}): void {
  if (request.accessKey !== undefined) {
    checkSecret(request.accessKey, 'the access key')
    if (request.accessKey === REVOKED_API_KEY) throw new InvalidInputError('"revoked" is reserved and cannot be an access key')
    // Commands take NODE_ID as a client id OR an access key: a key that reads as a number would be
    // taken for another client's id (delete-client 1 would revoke client 1, not this one).
    if (/^[-+]?\d*\.?\d+$/.test(request.accessKey)) {
      throw new InvalidInputError('an access key made only of digits would be taken for a client id by the commands that take NODE_ID', {
        suggestion: 'give a key with at least one letter, or leave --access-key out to have one generated',
      })
    }
  }
  if (request.password !== undefined) checkSecret(request.password, 'the password')
  if (request.cryptoKey !== undefined) checkSecret(request.cryptoKey, 'the crypto key', CRYPTO_KEY_LENGTH)
  // Imported records keep their names as written, an empty one included (upstream files have them).
  if (request.name !== undefined) {
    if (options.blankNameAllowed) checkText(request.name, 'the name')
    else checkName(request.name)
  }
  if (request.description !== undefined) checkText(request.description, 'the description')
}

export class ClientDatabase {
  constructor(readonly store: ClientStore) {}

  /** Enrols a client; generated secrets are returned in the record (print them once). */
  async addClient(request: AddClientRequest): Promise<ClientRecord> {
    validateAddRequest(request)
    const apiKey = request.accessKey ?? generateSecret()
    const password = request.password ?? generateSecret()
    const cryptoKey = request.cryptoKey ?? null
    // Checked before writing so the common mistake gets a clear message; the store enforces it too.
    const holder = await this.store.getByApiKey(apiKey)
    if (holder) throw new DuplicateApiKeyError(holder.client_id)
    const record = await this.store.add({
      api_key: apiKey,
      password,
      crypto_key: cryptoKey,
      name: request.name ?? '',
      description: request.description ?? '',
      is_admin: request.admin ?? false,
    })
    if (request.name === undefined) return this.store.update(record.client_id, {name: `HiveMind-Node-${record.client_id}`})
    return record
  }

  /**
   * Finds a client by NODE_ID: a positive integer is a client id (tombstones included), anything
   * else an access key (never a tombstone). The key is never echoed in the error.
   */
  async findNode(nodeId: string): Promise<ClientRecord> {
    const trimmed = nodeId.trim()
    if (/^\d+$/.test(trimmed)) {
      const id = Number(trimmed)
      const byId = Number.isSafeInteger(id) && id > 0 ? await this.store.get(id) : undefined
      if (byId) return byId
      // add-client refuses numeric access keys, but a file imported from another tool may hold one.
      const byKey = await this.store.getByApiKey(nodeId)
      if (byKey) return byKey
      throw new ClientNotFoundError(`id ${trimmed.length > 20 ? `${trimmed.slice(0, 20)}…` : trimmed}`)
    }
    if (/^-\d+$/.test(trimmed) || /^\d*\.\d+$/.test(trimmed)) {
      throw new InvalidInputError(`NODE_ID must be a positive client id or an access key, got ${trimmed.slice(0, 20)}`)
    }
    const byKey = nodeId.length > 0 && nodeId.length <= 1024 && !isRevoked({api_key: nodeId}) ? await this.store.getByApiKey(nodeId) : undefined
    if (!byKey) throw new ClientNotFoundError('that access key (NODE_ID is a client id or an access key)')
    return byKey
  }

  /** Adds `value` to a permission list; unchanged when present. */
  async addToList(record: ClientRecord, field: ListField, value: string, what: string): Promise<ChangeResult> {
    checkIdentifier(value, what)
    return this.change(record, (current) => (current[field].includes(value) ? undefined : {[field]: [...current[field], value]}))
  }

  /** Removes `value` from a permission list; unchanged when absent. */
  async removeFromList(record: ClientRecord, field: ListField, value: string, what: string): Promise<ChangeResult> {
    checkIdentifier(value, what)
    return this.change(record, (current) => (current[field].includes(value) ? {[field]: current[field].filter((item) => item !== value)} : undefined))
  }

  /** Sets a boolean permission; unchanged when it already has that value. */
  async setFlag(record: ClientRecord, field: FlagField, value: boolean): Promise<ChangeResult> {
    return this.change(record, (current) => (current[field] === value ? undefined : {[field]: value}))
  }

  async rename(record: ClientRecord, name: string): Promise<ChangeResult> {
    checkName(name)
    return this.change(record, (current) => (current.name === name ? undefined : {name}))
  }

  /** Revokes (tombstones) a client; unchanged when already revoked. */
  async revoke(record: ClientRecord): Promise<ChangeResult> {
    if (isRevoked(record)) return {changed: false, record}
    return {changed: true, record: await this.store.revoke(record.client_id)}
  }

  /** Every live client (or every record), in id order. */
  async all(includeRevoked = false): Promise<ClientRecord[]> {
    const records: ClientRecord[] = []
    for await (const record of this.store.list({includeRevoked})) records.push(record)
    return records
  }

  /**
   * Applies `decide` (the patch, or undefined when it is already so) to the client as stored at
   * the moment of writing, through the store's atomic `modify` when it has one: ten processes
   * each adding a skill to one blacklist keep all ten. A store without `modify` gets the patch
   * decided on `record` (a concurrent writer can then interleave).
   */
  private async change(record: ClientRecord, decide: (current: ClientRecord) => ClientPatch | undefined): Promise<ChangeResult> {
    let changed = false
    const decideLive = (current: ClientRecord): ClientPatch | undefined => {
      this.assertLive(current)
      const patch = decide(current)
      changed = patch !== undefined
      return patch
    }
    if (this.store.modify) {
      const stored = await this.store.modify(record.client_id, decideLive)
      return {changed, record: stored}
    }
    const patch = decideLive(record)
    return {changed, record: patch ? await this.store.update(record.client_id, patch) : record}
  }

  private assertLive(record: ClientRecord): void {
    if (isRevoked(record)) {
      throw new InvalidInputError(`client ${record.client_id} is revoked; its permissions can no longer change`, {
        suggestion: 'enrol the satellite again with add-client',
      })
    }
  }
}
