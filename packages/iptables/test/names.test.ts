import test from 'ava';
import { formatChainName, formatComment, goQuote, hashWithPrefix } from '../src/index.js';

// Chain names read back from Debian's Go bridge v1.1.1 (ipMasq ADD, `iptables-save -t nat`).
const FROM_GO: Array<[string, string, string]> = [['mynet', 'ctr1', 'CNI-5145007e2a8415ce07579739']];

for (const [net, id, chain] of FROM_GO) {
  test(`chain name of ${net}/${id} is the one the Go plugin created`, (t) => {
    t.is(formatChainName(net, id), chain);
  });
}

test('chain names are CNI- plus 24 hex digits of sha512(name+id); a prefix goes after CNI-', (t) => {
  const c = formatChainName('net', 'abc');
  t.regex(c, /^CNI-[0-9a-f]{24}$/);
  t.is(c.length, 28);
  // the hash covers name+id concatenated, so only the concatenation matters (as upstream)
  t.is(formatChainName('ne', 'tabc'), c);
  const dn = formatChainName('net', 'abc', 'DN-');
  t.regex(dn, /^CNI-DN-[0-9a-f]{21}$/);
  t.is(dn.slice(7), c.slice(4, 25));
});

test('sha512 hex of a known input (so the hash is really sha512, not another digest)', (t) => {
  // sha512("abc") begins ddaf35a193617aba
  t.is(hashWithPrefix(16, '', 'abc'), 'ddaf35a193617aba');
  t.throws(() => hashWithPrefix(4, 'CNI-', 'x'));
  t.throws(() => hashWithPrefix(129, '', 'x'));
});

test('comments quote like Go %q', (t) => {
  t.is(formatComment('mynet', 'ctr1'), 'name: "mynet" id: "ctr1"');
  t.is(goQuote('a"b\\c\n'), '"a\\"b\\\\c\\n"');
});
