import {expect} from 'chai'

import {type ClientRecord, hasRecordShape, parseClientRecord} from '../../src/core/client.js'
import {InvalidInputError} from '../../src/core/errors.js'
import {assertStorableRecord} from '../../src/core/validate.js'
import {variedClients} from '../helpers/varied-clients.js'

/** What parseClientRecord says of `value`: accepted, or its error message. */
function parseVerdict(value: unknown): string {
  try {
    parseClientRecord(value, 'client')
    return 'accepted'
  } catch (error) {
    return (error as Error).message
  }
}

describe('assertStorableRecord and its shortcut, hasRecordShape', () => {
  const good = variedClients(40)

  it('records as stores read them have the shape, and are accepted', () => {
    for (const record of good) {
      expect(hasRecordShape(record), `client ${record.client_id}`).to.equal(true)
      expect(() => assertStorableRecord(record)).not.to.throw()
    }
  })

  it('a record with any field of another type lacks the shape exactly when the parse would not take it as it stands; the error is the parse error', () => {
    const wrongValues: unknown[] = [undefined, null, 0, 1, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '', 'x', true, [], ['a'], [1], {}, {a: 1}]
    for (const field of Object.keys(good[0]!) as Array<keyof ClientRecord>) {
      for (const wrong of wrongValues) {
        const record = {...good[3]!, [field]: wrong} as ClientRecord
        const shaped = hasRecordShape(record)
        const verdict = parseVerdict(record)
        const label = `${field} = ${JSON.stringify(wrong) ?? String(wrong)}`
        // The shortcut never lets through what the parse refuses.
        if (shaped) expect(verdict, label).to.equal('accepted')
        let said: string
        try {
          assertStorableRecord(record)
          said = 'accepted'
        } catch (error) {
          expect(error, label).to.be.instanceOf(InvalidInputError)
          said = (error as Error).message
        }
        const emptyKey = field === 'api_key' && wrong === ''
        expect(said, label).to.equal(emptyKey ? 'client 4: the access key must not be empty' : verdict === 'accepted' ? 'accepted' : verdict.replace(/^client:/, `client ${String(record.client_id)}:`))
      }
    }
  })

  it('a record with a hole or a number in a list, or no object at all, lacks the shape', () => {
    // eslint-disable-next-line no-sparse-arrays
    expect(hasRecordShape({...good[0]!, allowed_types: ['speak', , 'x'] as string[]})).to.equal(false)
    expect(hasRecordShape({...good[0]!, skill_blacklist: ['a', 7] as unknown as string[]})).to.equal(false)
    expect(hasRecordShape(null as unknown as ClientRecord)).to.equal(false)
    expect(hasRecordShape([] as unknown as ClientRecord)).to.equal(false)
  })
})

describe('parseClientRecord messages', () => {
  it('says what a non-finite number is, not "found a number" (QA: last_seen 1e400)', () => {
    const record = {...variedClients(1)[0]!, last_seen: JSON.parse('1e400') as number}
    expect(() => parseClientRecord(record, 'clients.json, record "1"')).to.throw('clients.json, record "1": field "last_seen" must be a number, found a number too large to hold')
    expect(() => parseClientRecord({...record, last_seen: Number.NaN}, 'x')).to.throw('field "last_seen" must be a number, found NaN')
  })
})
