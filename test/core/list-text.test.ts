import {expect} from 'chai'

import {listJson, parseListText} from '../../src/core/list-text.js'

describe('parseListText', () => {
  it('gives what JSON.parse gives, whatever the order of texts, and throws where JSON.parse throws', () => {
    const texts = ['["a","b"]', '["a","b"]', '[]', '["a","b"]', '["c"]', '{"x":1}', '"text"', '["a","b"]', '[]', '[1,null]', '["c"]', '["é","🐝"]']
    for (const text of texts) expect(parseListText(text), text).to.deep.equal(JSON.parse(text))
    // Right after a text it has seen, an invalid one still fails as JSON.parse does.
    parseListText('["a","b"]')
    expect(() => parseListText('["a","b"')).to.throw(SyntaxError)
    expect(() => parseListText('')).to.throw(SyntaxError)
  })

  it('parses texts that are equal but separately made to the same list', () => {
    const first = parseListText(['["speak",', '"recognizer_loop:utterance"]'].join(''))
    const second = parseListText(JSON.stringify(['speak', 'recognizer_loop:utterance']))
    expect(second).to.deep.equal(['speak', 'recognizer_loop:utterance'])
    expect(second).to.equal(first)
  })
})

describe('listJson', () => {
  it('gives what JSON.stringify gives, whatever the order of lists, also for the same array changed between calls', () => {
    const shared = ['speak', 'recognizer_loop:utterance']
    const lists: unknown[][] = [shared, shared, [], ['speak', 'recognizer_loop:utterance'], ['speak'], shared, ['é', '🐝', '"quoted"\n'], ['speak']]
    for (const items of lists) expect(listJson(items), JSON.stringify(items)).to.equal(JSON.stringify(items))
    listJson(shared)
    shared.push('hello')
    expect(listJson(shared)).to.equal('["speak","recognizer_loop:utterance","hello"]')
    shared[0] = 'other'
    expect(listJson(shared)).to.equal('["other","recognizer_loop:utterance","hello"]')
    // A hole, and an undefined item, are both written as null.
    // eslint-disable-next-line no-sparse-arrays
    expect(listJson(['a', , 'b'])).to.equal('["a",null,"b"]')
    expect(listJson(['a', undefined, 'b'])).to.equal('["a",null,"b"]')
  })
})
