/**
 * A ClientStore that records what it changed, so every command that writes through
 * StoreCommand.withDatabase is audited without knowing about it. Changes are collected while the
 * command runs and turned into audit inputs afterwards: one line per client changed, even when a
 * command touched it twice (add-client adds, then names the client).
 */
import {type ClientPatch, type ClientRecord, cloneClient, type NewClient} from '../core/client.js'
import {lookupEach} from '../core/lookups.js'
import type {ClientStore, ListOptions} from '../core/store.js'
import {type AuditEventName, type AuditInput, classifyUpdate, describeChanges} from './entry.js'

type Via = 'add' | 'put' | 'update' | 'revoke'

interface Change {
  via: Via
  /** The client before the first change of this command (undefined: it did not exist). */
  before: ClientRecord | undefined
  after: ClientRecord
}

export class AuditingStore implements ClientStore {
  private readonly changes = new Map<number, Change>()
  private cleared = 0

  constructor(readonly inner: ClientStore) {}

  get name(): string {
    return this.inner.name
  }

  get location(): string {
    return this.inner.location
  }

  open(): Promise<void> {
    return this.inner.open()
  }

  close(): Promise<void> {
    return this.inner.close()
  }

  async add(client: NewClient): Promise<ClientRecord> {
    const record = await this.inner.add(client)
    this.note(record.client_id, 'add', undefined, record)
    return record
  }

  async put(client: ClientRecord): Promise<ClientRecord> {
    const before = await this.inner.get(client.client_id)
    const record = await this.inner.put(client)
    this.note(record.client_id, 'put', before, record)
    return record
  }

  async update(id: number, patch: ClientPatch): Promise<ClientRecord> {
    const before = this.changes.has(id) ? undefined : await this.inner.get(id)
    const record = await this.inner.update(id, patch)
    this.note(id, 'update', before, record)
    return record
  }

  /** Present when the inner store has it; `before` is the record exactly as the change saw it. */
  get modify(): ((id: number, change: (current: ClientRecord) => ClientPatch | undefined) => Promise<ClientRecord>) | undefined {
    const inner = this.inner
    if (!inner.modify) return undefined
    return async (id, change) => {
      let seen: ClientRecord | undefined
      let changed = false
      const record = await inner.modify!(id, (current) => {
        seen = cloneClient(current)
        const patch = change(current)
        changed = patch !== undefined
        return patch
      })
      if (changed) this.note(id, 'update', this.changes.has(id) ? undefined : seen, record)
      return record
    }
  }

  async revoke(id: number): Promise<ClientRecord> {
    const before = this.changes.has(id) ? undefined : await this.inner.get(id)
    const record = await this.inner.revoke(id)
    this.note(id, 'revoke', before, record)
    return record
  }

  get(id: number): Promise<ClientRecord | undefined> {
    return this.inner.get(id)
  }

  getByApiKey(apiKey: string): Promise<ClientRecord | undefined> {
    return this.inner.getByApiKey(apiKey)
  }

  list(options?: ListOptions): AsyncIterable<ClientRecord> {
    return this.inner.list(options)
  }

  count(options?: ListOptions): Promise<number> {
    return this.inner.count(options)
  }

  revision(): Promise<string> {
    return this.inner.revision()
  }

  get putMany(): ((clients: readonly ClientRecord[]) => Promise<void>) | undefined {
    const inner = this.inner
    if (!inner.putMany) return undefined
    return async (clients) => {
      const before = await lookupEach(clients, (client) => inner.get(client.client_id))
      await inner.putMany!(clients)
      for (const [index, client] of clients.entries()) this.note(client.client_id, 'put', before[index], client)
    }
  }

  get clear(): (() => Promise<void>) | undefined {
    const inner = this.inner
    if (!inner.clear) return undefined
    return async () => {
      const count = await inner.count({includeRevoked: true})
      await inner.clear!()
      this.cleared += count
    }
  }

  /** The audit inputs of everything changed so far (and forgets them). */
  drain(): AuditInput[] {
    const store = `${this.inner.name} ${this.inner.location}`
    const inputs: AuditInput[] = []
    if (this.cleared > 0) inputs.push({event: 'clear', store, details: {removed: this.cleared}})
    for (const [id, change] of this.changes) {
      const changes = describeChanges(change.before, change.after)
      const event: AuditEventName =
        change.via === 'add' ? 'add' : change.via === 'put' ? 'import' : change.via === 'revoke' ? 'revoke' : change.before ? classifyUpdate(changes) : 'update'
      // A write that changed nothing (an identical put) is not a change.
      if (change.before && Object.keys(changes).length === 0) continue
      inputs.push({
        event,
        store,
        client_id: id,
        name: change.after.name,
        changes,
        ...(change.via === 'put' ? {details: {replaced: change.before !== undefined}} : {}),
      })
    }
    this.changes.clear()
    this.cleared = 0
    return inputs
  }

  private note(id: number, via: Via, before: ClientRecord | undefined, after: ClientRecord): void {
    const earlier = this.changes.get(id)
    // The first change decides what the client was before and how it came to be (add stays add).
    if (earlier) this.changes.set(id, {via: earlier.via === 'add' || earlier.via === 'put' ? earlier.via : via === 'revoke' ? 'revoke' : earlier.via, before: earlier.before, after})
    else this.changes.set(id, {via, before, after})
  }
}
