/**
 * lookupEach: many reads of a store at once, results in order, a bounded number pending.
 */
import {expect} from 'chai'

import {LOOKUPS_IN_FLIGHT, lookupEach} from '../../src/core/lookups.js'

describe('lookupEach', () => {
  it('returns the results in input order with at most LOOKUPS_IN_FLIGHT pending, and more than one', async () => {
    let pending = 0
    let most = 0
    const items = Array.from({length: 500}, (_, index) => index)
    const results = await lookupEach(items, async (item) => {
      pending++
      most = Math.max(most, pending)
      // Later items finish sooner: the order of the results must not follow completion.
      await new Promise((resolve) => setTimeout(resolve, (item % 7) + 1))
      pending--
      return item * 2
    })
    expect(results).to.deep.equal(items.map((item) => item * 2))
    expect(most).to.equal(LOOKUPS_IN_FLIGHT)
  })

  it('rejects with the first failure', async () => {
    const failure = await lookupEach([1, 2, 3], async (item) => {
      if (item === 2) throw new Error('lookup 2 failed')
      return item
    }).then(
      () => undefined,
      (error: Error) => error,
    )
    expect(failure?.message).to.equal('lookup 2 failed')
  })

  it('handles nothing to look up', async () => {
    expect(await lookupEach([], async () => 1)).to.deep.equal([])
  })
})
