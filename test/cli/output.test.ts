import {expect} from 'chai'

import {relativeTime} from '../../src/cli/output.js'

describe('relativeTime', () => {
  const now = Date.UTC(2026, 0, 15, 12, 0, 0)
  const at = (secondsFromNow: number) => now / 1000 + secondsFromNow

  it('names the largest whole unit, singular or plural', () => {
    expect(relativeTime(at(-1), now)).to.equal('1 second ago')
    expect(relativeTime(at(-59), now)).to.equal('59 seconds ago')
    expect(relativeTime(at(-60), now)).to.equal('1 minute ago')
    expect(relativeTime(at(-2 * 3600 - 60), now)).to.equal('2 hours ago')
    expect(relativeTime(at(-86_400), now)).to.equal('1 day ago')
    expect(relativeTime(at(-3 * 86_400 - 60), now)).to.equal('3 days ago')
    expect(relativeTime(at(-45 * 86_400), now)).to.equal('1 month ago')
    expect(relativeTime(at(-800 * 86_400), now)).to.equal('2 years ago')
  })

  it('says "now", "in …" for a clock ahead of ours, and "never" for an unseen client', () => {
    expect(relativeTime(at(0.4), now)).to.equal('now')
    expect(relativeTime(at(300), now)).to.equal('in 5 minutes')
    expect(relativeTime(-1, now)).to.equal('never')
    expect(relativeTime(Number.NaN, now)).to.equal('never')
  })

  it('does not need Intl.RelativeTimeFormat (its first use loads ICU data: tens of ms of a cold start)', () => {
    const intl = Intl as {RelativeTimeFormat: unknown}
    const original = intl.RelativeTimeFormat
    intl.RelativeTimeFormat = function () {
      throw new Error('Intl.RelativeTimeFormat used')
    }
    try {
      expect(relativeTime(at(-7200), now)).to.equal('2 hours ago')
    } finally {
      intl.RelativeTimeFormat = original
    }
  })
})
