import {expect} from 'chai'

import {printable} from '../../src/cli/printable.js'

describe('printable', () => {
  it('escapes C0/C1 controls, DEL and bidirectional overrides; keeps tab, newline and every other character', () => {
    expect(printable('a\u001B[2Jb\u0007c\u007Fd\u009Be\u202Ef\u2066g')).to.equal(String.raw`a\x1b[2Jb\x07c\x7fd\x9be\u202ef\u2066g`)
    expect(printable('Küche 🍳 кухня\tand\nmore')).to.equal('Küche 🍳 кухня\tand\nmore')
  })
})
