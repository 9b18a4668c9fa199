import {expect} from 'chai'

import {oneLine, printable} from '../../src/cli/printable.js'

describe('printable', () => {
  it('escapes C0/C1 controls and DEL; keeps tab, newline and every other character (bidirectional marks included)', () => {
    expect(printable('a\u001B[2Jb\u0007c\u007Fd\u009Be\u202Ef')).to.equal(String.raw`a\x1b[2Jb\x07c\x7fd\x9be` + '\u202Ef')
    expect(printable('Küche 🍳 кухня\tand\nmore')).to.equal('Küche 🍳 кухня\tand\nmore')
  })

  it('oneLine also escapes tab and line breaks, so a stored value stays on its line', () => {
    expect(oneLine('a\tb\nc\rd\u001Be')).to.equal(String.raw`a\tb\nc\rd\x1be`)
    expect(oneLine('Küche 🍳')).to.equal('Küche 🍳')
  })
})
