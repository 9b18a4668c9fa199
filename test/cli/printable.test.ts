import {expect} from 'chai'

import {oneLine, printable} from '../../src/cli/printable.js'

describe('printable', () => {
  it('escapes C0/C1 controls and DEL; keeps tab, newline and every other character (bidirectional marks included)', () => {
    expect(printable('a\u001B[2Jb\u0007c\u007Fd\u009Bef')).to.equal(String.raw`a\x1b[2Jb\x07c\x7fd\x9bef`)
    expect(printable('Küche 🍳 кухня\tand\nmore')).to.equal('Küche 🍳 кухня\tand\nmore')
  })

  it('escapes the bidirectional embeddings, overrides and isolates that reorder the rest of a line, and keeps the marks of right-to-left names (QA: a name with U+202E printed raw)', () => {
    expect(printable('Kitchen\u202Enehctik\u202C \u202A\u202B\u202D \u2066\u2067\u2068\u2069')).to.equal(String.raw`Kitchen\u202enehctik\u202c \u202a\u202b\u202d \u2066\u2067\u2068\u2069`)
    expect(printable('מטבח\u200F 2\u200E')).to.equal('מטבח\u200F 2\u200E')
  })

  it('oneLine also escapes tab and line breaks, so a stored value stays on its line', () => {
    expect(oneLine('a\tb\nc\rd\u001Be')).to.equal(String.raw`a\tb\nc\rd\x1be`)
    expect(oneLine('Küche 🍳')).to.equal('Küche 🍳')
  })
})
