/**
 * Two equal names in one JSON object: JSON.parse keeps the last without a word, so a clients
 * document holding a client twice (or a client's access key twice) is refused with where.
 */
import {expect} from 'chai'

import {parseClientsFile} from '../../src/core/interchange.js'
import {findDuplicateName} from '../../src/core/json-text.js'
import {assertNoDuplicateNames} from '../../src/core/upstream-json.js'

describe('duplicate names in JSON', () => {
  it('findDuplicateName: finds the second appearance within the depth asked, with the path to it', () => {
    const text = '{"a": {"x": 1, "y": {"k": 1, "k": 2}, "x": 3}, "b": [{"z": 1, "z": 2}]}'
    expect(findDuplicateName(text, 1)).to.equal(undefined)
    expect(findDuplicateName(text, 2)).to.deep.equal({path: ['a'], name: 'x', line: 1, column: 39})
    expect(findDuplicateName('{"a": {"y": {"k": 1, "k": 2}}}', 3)).to.deep.equal({path: ['a', 'y'], name: 'k', line: 1, column: 22})
    expect(findDuplicateName('\uFEFF{\n  "1": {},\n  "1": {}\n}', 1)).to.deep.equal({path: [], name: '1', line: 3, column: 3})
  })

  it('a sound document costs no scan and passes; names inside metadata do not count as clients', () => {
    const sound = '{"1": {"client_id": 1, "api_key": "a", "metadata": {"api_key": "x", "api_key": "y"}}}'
    // More "api_key" names than records: scanned, but only records and their fields are checked.
    expect(() => assertNoDuplicateNames(sound, JSON.parse(sound), 'f.json')).not.to.throw()
  })

  it('an import file (a list of records) with an access key given twice is refused, naming the record', () => {
    const text = '[{"client_id": 1, "api_key": "a"}, {"client_id": 2, "api_key": "b", "api_key": "c"}]'
    expect(() => parseClientsFile(text, 'import.json')).to.throw('import.json: client "#2": field "api_key" appears twice (the second at line 1, column 69)')
  })
})
