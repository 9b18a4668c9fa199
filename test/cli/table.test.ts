/**
 * renderTable draws long tables in slices (cli-table3's layout is quadratic in rows): the text
 * must be exactly what one cli-table3 table of all the rows gives, whatever the cells hold.
 */
import {expect} from 'chai'
import Table from 'cli-table3'

import {renderTable, ROWS_PER_SLICE} from '../../src/cli/table.js'

const HEAD = ['id', 'name', 'access key', 'admin', 'allowed types', 'last seen', 'revoked']

/** One cli-table3 table of every row, as renderTable drew them all before slicing. */
function wholeTable(head: string[], rows: Array<Array<string | number>>): string {
  const table = new Table({head, style: {head: [], border: [], compact: true}})
  for (const row of rows) table.push(row.map(String))
  return table.toString()
}

/** Cells of varied widths: wide (CJK, emoji) and combining characters, colour codes, empty cells, one row of two lines. */
function rows(count: number): Array<Array<string | number>> {
  const names = ['kitchen', '台所のサテライト', 'salon 🛋️', 'cafe\u0301', '', '\u001B[31mred\u001B[39m', 'x'.repeat(40)]
  return Array.from({length: count}, (_, index) => [
    index + 1,
    index === Math.floor(count / 2) ? 'two\nlines' : names[index % names.length]!,
    `k${String(index).padStart(3, '0')}********`,
    index % 3 === 0 ? 'yes' : 'no',
    index % 9,
    index % 5 === 0 ? 'never' : `${index % 60} min ago`,
    'no',
  ])
}

describe('renderTable', () => {
  for (const count of [1, ROWS_PER_SLICE - 1, ROWS_PER_SLICE, ROWS_PER_SLICE + 1, 2 * ROWS_PER_SLICE, 3 * ROWS_PER_SLICE + 7]) {
    it(`draws ${count} row(s) exactly as one cli-table3 table does`, () => {
      const data = rows(count)
      expect(renderTable(HEAD, data)).to.equal(wholeTable(HEAD, data))
    })
  }

  it('a header wider than every cell, and a cell widest only in a late slice, set the widths of every slice', () => {
    const data: Array<Array<string | number>> = Array.from({length: 2 * ROWS_PER_SLICE + 3}, (_, index) => [index, 'a'])
    data.at(-1)![1] = '这是最后一片里最宽的名字'
    const head = ['an unusually long header', 'name']
    expect(renderTable(head, data)).to.equal(wholeTable(head, data))
  })
})
