import {expect} from 'chai'

import {LogBudget} from '../../src/server/log-budget.js'

describe('LogBudget', () => {
  it('lets the first N of a window through, counts the rest, says the count at the next window or a flush, and a flush does not reopen the window (QA: a flapping bus let every reconnection log 20 more)', () => {
    const said: number[] = []
    const budget = new LogBudget(3, 60_000, (count) => said.push(count))
    const start = 1_000_000
    expect([0, 1, 2, 3, 4].map((offset) => budget.take(start + offset))).to.deep.equal([true, true, true, false, false])
    budget.flush()
    expect(said).to.deep.equal([2])
    // Still the same window after the flush: counted, not logged.
    expect(budget.take(start + 10)).to.equal(false)
    budget.flush()
    budget.flush()
    expect(said).to.deep.equal([2, 1])
    // The next window: three more one by one.
    expect([0, 1, 2, 3].map((offset) => budget.take(start + 60_000 + offset))).to.deep.equal([true, true, true, false])
    expect(said).to.deep.equal([2, 1])
  })
})
