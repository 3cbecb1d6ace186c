// The two kinds of value an nft script holds, and one encoder for each (nft 1.0.6's scanner,
// measured in the tests):
//
//   - strings (comments, interface names): `"` … `"` with no escapes at all. Everything up to the
//     next `"` is the string, including `#`, `;`, `\` and even a newline. So a string cannot
//     hold `"`. We also refuse line breaks (nft reads them, but `nft list` then prints the rule
//     across lines and nothing that reads listings line by line gets it back) and NUL.
//   - identifiers (table and chain names): bare only — nft refuses a quoted name — made of
//     letters, digits, `/`, `-`, `_`, `.`, starting with a letter, `_` or `.`. A name that is
//     an nft keyword is refused by nft itself (an error, never a misread); ours carry a prefix.
//
// In an interface-name match (`iifname "x*"`) nft reads a trailing `*` as a wildcard; the
// encoder cannot know the context, so pass only names without `*` there.
import { UnencodableError } from '@cni-ts/process';

const IDENTIFIER = /^[A-Za-z_.][A-Za-z0-9/_.-]*$/;

/** A value as an nft string token (double-quoted) that nft reads back exactly; throws UnencodableError otherwise. */
export function nftString(value: string): string {
  if (value.includes('"')) throw new UnencodableError('nft', value, 'nft strings have no way to hold a double quote');
  if (/[\n\r]/.test(value)) throw new UnencodableError('nft', value, 'it contains a line break');
  if (value.includes('\0')) throw new UnencodableError('nft', value, 'it contains a NUL byte');
  return `"${value}"`;
}

/** A table or chain name as the bare word nft reads back exactly; throws UnencodableError otherwise. */
export function nftIdentifier(name: string): string {
  if (!IDENTIFIER.test(name))
    throw new UnencodableError(
      'nft',
      name,
      'nft names are bare words of letters, digits, "/", "-", "_" and ".", starting with a letter, "_" or "."',
    );
  return name;
}
