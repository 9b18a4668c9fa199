import {expect} from 'chai'

import {sideFlagsIn, withSideHints} from '../../src/cli/side-hints.js'
import {buildClient, type ClientRecord} from '../../src/core/client.js'
import {StoreCorruptError, StoreUnavailableError} from '../../src/core/errors.js'
import {MemoryStore} from '../../src/core/memory-store.js'

describe('side hints (a store opened through --from-* / --to-* flags)', () => {
  it('names the side\'s flags for the usual database flags, and leaves everything else as it is', () => {
    expect(sideFlagsIn('check the database path (--db-path, database.json.path)', 'to')).to.equal('check the database path (--to-path, database.json.path)')
    expect(sideFlagsIn('check --redis-url / --redis-host / --redis-port / --redis-db, or --db-option tls=true', 'from')).to.equal(
      'check --from-redis-url / --from-redis-host / --from-redis-port / --from-redis-db, or --from-option tls=true',
    )
    expect(sideFlagsIn('give it through HIVEMIND_REDIS_PASSWORD or --redis-password', 'to')).to.equal('give it through HIVEMIND_REDIS_PASSWORD or --to-redis-password')
    // Not one of the usual flags (no side version of it): unchanged.
    expect(sideFlagsIn('pass --db-backend json, --redis-timeout or --db-pathname', 'to')).to.equal('pass --db-backend json, --redis-timeout or --db-pathname')
    expect(sideFlagsIn('or --redis-tls', 'from')).to.equal('or --from-redis-tls')
  })

  it('rewrites the hint of an error from any method, a listing included, keeping its class, code and message', async () => {
    const records = [buildClient(1, {api_key: 'k1'}), buildClient(2, {api_key: 'k2'})]
    const store = new FailingStore(records)
    await store.open()
    const wrapped = withSideHints(store, 'to')
    const failure = await wrapped.count().catch((error: unknown) => error)
    expect(failure).to.be.instanceOf(StoreUnavailableError)
    expect((failure as StoreUnavailableError).code).to.equal('STORE_UNAVAILABLE')
    expect((failure as StoreUnavailableError).message).to.equal('down')
    expect((failure as StoreUnavailableError).suggestion).to.equal('check --to-redis-url')
    const listed: number[] = []
    const listingFailure = await (async () => {
      for await (const record of wrapped.list()) listed.push(record.client_id)
    })().catch((error: unknown) => error)
    // The records before the failure still came through.
    expect(listed).to.deep.equal([1, 2])
    expect(listingFailure).to.be.instanceOf(StoreCorruptError)
    expect((listingFailure as StoreCorruptError).suggestion).to.equal('check --to-path / database.sqlite.path')
    // Everything else is the store's own.
    expect(wrapped.location).to.equal(store.location)
    expect(await wrapped.get(2)).to.deep.equal(records[1])
    expect(wrapped.putMany).to.be.a('function')
  })

  it('leaves a hint without those flags, and the store itself, unchanged', async () => {
    const store = new FailingStore([], 'start redis-server first')
    await store.open()
    const failure = await withSideHints(store, 'from').count().catch((error: unknown) => error)
    expect((failure as StoreUnavailableError).suggestion).to.equal('start redis-server first')
    const direct = await store.count().catch((error: unknown) => error)
    expect((direct as StoreUnavailableError).suggestion).to.equal('start redis-server first')
  })
})

/** A store whose count() fails with a hint naming --redis-url, and whose listing fails after its records. */
class FailingStore extends MemoryStore {
  constructor(private readonly seed: ClientRecord[], private readonly hint = 'check --redis-url') {
    super('failing')
  }

  override async open(): Promise<void> {
    await super.open()
    if (this.seed.length > 0) await this.putMany(this.seed)
  }

  override async count(): Promise<number> {
    throw new StoreUnavailableError('down', {suggestion: this.hint})
  }

  override async *list(): AsyncIterable<ClientRecord> {
    yield* super.list()
    throw new StoreCorruptError('row 3 is damaged', {suggestion: 'check --db-path / database.sqlite.path'})
  }
}
