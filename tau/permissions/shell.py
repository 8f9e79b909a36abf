"""Shell command analysis: every program a bash command line would run, from a real parser (tree-sitter-bash).

Owns `analyse(command) -> ShellAnalysis`, pure and total (never raises), and the values it returns. The policy
judges every `SimpleCommand`; a line is allowed only if every part is. The walk itself lives in `shell_walk.py`,
word expansion in `shell_words.py`, wrappers in `wrappers.py`, the values in `shell_types.py`.

What a part is: one program run, after its wrappers (`timeout 5 nice rm x` is `rm x`), with the words as bash
would expand them (quotes removed, `$'\\x72m'` decoded, `{rm,-f,x}` brace-expanded) and the expansions it cannot
know kept as written (`Word.value` None). Commands inside substitutions, `bash -c` / `eval` / `trap` strings,
function bodies, loop and `if` bodies, `find -exec` are parts too. A part also carries its redirections, the names
it exports, whether a wrapper escalates (`sudo`), where it may run (`cwd`: the directories a `cd` earlier in the
line may have moved to, relative to the start directory; None when unknown) and why it cannot be proven safe
(`problem`; `hazards` are the source texts of code-running expansions behind it).

`ShellAnalysis.problem` is set when the line as a whole cannot be proven: tree-sitter found a syntax error
(`malformed`), syntax this analysis does not know, an
assignment or an expansion outside any command that can change or run code. Parts found anyway are returned so deny
rules still see them. When anything cannot be proven, `suspects` lists every word sequence of the line (and of
shell strings inside it that do not parse), for deny rules only: a deny rule matching one denies the line.
"""

from __future__ import annotations

import re
import shlex

from tau.permissions.shell_quoting import Unprovable, brace_expand
from tau.permissions.shell_types import Redirect, ShellAnalysis, SimpleCommand
from tau.permissions.shell_walk import Walker

__all__ = ["Redirect", "ShellAnalysis", "SimpleCommand", "analyse", "suspect_texts"]


def analyse(command: str) -> ShellAnalysis:
    """Split `command` into the programs it runs. Total: what cannot be proven is a `problem`, never an error."""
    walker = Walker()
    walker.walk_source(command)
    suspects: tuple[str, ...] = ()
    if walker.problem is not None or any(part.problem is not None for part in walker.parts):
        sources = dict.fromkeys((command, *walker.sweep))
        suspects = tuple(dict.fromkeys(t for source in sources for t in suspect_texts(source)))
    return ShellAnalysis(tuple(walker.parts), walker.problem, walker.malformed, suspects)


# --- the deny sweep over text that does not parse ------------------------------------------------------------------

_SEGMENT = re.compile(r"[;&|()\n`]|\$\(|<\(|>\(")
_MAX_SUSPECT_WORDS = 64
_ASSIGNED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_DEFAULTED = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?[-=+]([^}]*)\}")


def suspect_texts(source: str) -> list[str]:
    """Word sequences a line that cannot be proven might run, for deny rules only: every suffix of every segment
    between operators, after quote removal and brace expansion (an assignment counts as its value, `${x:-w}` as w),
    with the first
    word also as its basename."""
    out: list[str] = []
    for segment in _SEGMENT.split(source):
        words = _loose_words(segment)[:_MAX_SUSPECT_WORDS]
        for i in range(len(words)):
            out.append(" ".join(words[i:]))
            base = words[i].rsplit("/", 1)[-1]
            if base != words[i]:
                out.append(" ".join([base, *words[i + 1 :]]))
    return out


def _loose_words(segment: str) -> list[str]:
    try:
        tokens = shlex.split(segment)
    except ValueError:  # unbalanced quotes: quotes and backslashes count as blanks
        tokens = re.sub(r"[\'\"\\]", " ", segment).split()
    words: list[str] = []
    for token in tokens:
        value = _ASSIGNED.sub("", token, count=1)  # `x=rm; $x y`: the value may become a command
        value = _DEFAULTED.sub(r"\1", value)  # `${x:-rm} y` runs rm when x is unset
        try:
            words.extend("".join(c for c, _ in chars) for chars in brace_expand([(c, False) for c in value]))
        except Unprovable:
            words.append(value)
    return words
