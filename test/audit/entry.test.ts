import {expect} from 'chai'

import {describeChanges} from '../../src/audit/entry.js'
import {parseClientRecord} from '../../src/core/client.js'

describe('audit entry: describeChanges', () => {
  const live = parseClientRecord({client_id: 4, api_key: 'a'.repeat(32), password: 'b'.repeat(32), name: 'kitchen'}, 'test')
  const tombstone = parseClientRecord({client_id: 5, api_key: 'revoked', name: 'old'}, 'test')

  it('a new client: each secret it holds is "set", never its value', () => {
    const changes = describeChanges(undefined, live)
    expect(changes.api_key).to.deep.equal({secret: 'set'})
    expect(changes.password).to.deep.equal({secret: 'set'})
    expect(changes).not.to.have.property('crypto_key')
    expect(JSON.stringify(changes)).not.to.contain('a'.repeat(32))
  })

  it('a tombstone written as it is (import, restore) is "revoked", not a key "set" (QA)', () => {
    const changes = describeChanges(undefined, tombstone)
    expect(changes.api_key).to.deep.equal({secret: 'revoked'})
    expect(changes).not.to.have.property('password')
  })

  it('revoking a live client says "revoked" and "cleared"', () => {
    const changes = describeChanges(live, {...live, api_key: 'revoked', password: null})
    expect(changes.api_key).to.deep.equal({secret: 'revoked'})
    expect(changes.password).to.deep.equal({secret: 'cleared'})
  })
})
