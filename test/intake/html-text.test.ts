// htmlToText: the text mail clients show, and the same answer for hostile HTML without rescanning.
import { describe, it, expect } from 'vitest';
import { htmlToText } from '../../src/intake/classify/html-text.js';

const ORDER = '<p>注文番号：A-100</p><p>商品コード：X1</p><p>数量：2</p>';

describe('htmlToText', () => {
  it('line breaks for br and closing blocks, a space for other tags, entities decoded', () => {
    expect(htmlToText('<div>a<br/>b</div><span>c</span>&lt;d&gt; &amp;lt; &#27880;&#x6587; &nbsp;x')).toBe(' a\nb\n c <d> &lt; 注文  x');
    expect(htmlToText('<table><tr><td>商品コード: A-1</td><td>数量：3</td></tr></table>')).toBe('   商品コード: A-1\n 数量：3\n\n ');
  });

  it('skips comments, scripts and styles', () => {
    expect(htmlToText('a<!-- <p>hidden</p> -->b<script>if (a<b) x()</script>c<STYLE>p{}</style>d')).toBe('ab  c  d');
  });

  it('entities out of range or unknown stay as they are (no exception)', () => {
    expect(htmlToText('&#99999999; &#xD800; &#0; &bogus; &#1234567890123;')).toBe('&#99999999; &#xD800; &#0; &bogus; &#1234567890123;');
  });

  it.each([
    ['120 KB of unclosed <br', '<br'.repeat(40_000)],
    ['an unclosed tag with a 120 KB attribute', `<a href="${'x'.repeat(120_000)}`],
    ['30,000 unclosed nested comments', '<!--'.repeat(30_000)],
    ['120,000 bare <', '<'.repeat(120_000)],
    ['an unclosed script', `<script>${'<p>'.repeat(30_000)}`, ' '],
  ])('%s: the text before it is kept, the rest dropped', (_name, tail, extra = '') => {
    expect(htmlToText(ORDER + tail)).toBe(` 注文番号：A-100\n 商品コード：X1\n 数量：2\n${extra}`);
  });

  it('a closed tag with 30,000 attributes is one tag', () => {
    expect(htmlToText(`${ORDER}<a ${'x=1 '.repeat(30_000)}>after`)).toBe(' 注文番号：A-100\n 商品コード：X1\n 数量：2\n after');
  });
});
