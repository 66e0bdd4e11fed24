"""Hypothesis strategies for identifiers written in clear the ways a careless or hostile service writes them.

Every personnummer is generated (valid date and check digit, random digits), never a real person's.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from hypothesis import strategies as st

from pdtrail.simulate import generate_personnummer

# Separators a person or a program puts between digit groups: ASCII, Unicode dashes and spaces, and
# full-width forms. Each is one visible character; up to three go between two digits.
VISIBLE_SEPARATORS = (
    *"-+ ./_\\,:;|#*~'()[]=",
    "\t",
    "\u2010",  # hyphen
    "\u2011",  # non-breaking hyphen
    "\u2012",  # figure dash
    "\u2013",  # en dash
    "\u2014",  # em dash
    "\u2212",  # minus sign
    "\ufe63",  # small hyphen-minus
    "\uff0d",  # full-width hyphen-minus
    "\u00a0",  # no-break space
    "\u2009",  # thin space
    "\u202f",  # narrow no-break space
    "\u3000",  # ideographic space
    "\uff0f",  # full-width solidus
    "\u00b7",  # middle dot
)
# Characters nobody sees: anywhere, any number of them.
INVISIBLE = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u180e", "\u0000", "\u001f")
# Separators an id or a path may hold (their grammar): ASCII only.
ID_SEPARATORS = tuple("_.:/+=#-")


def _digit_forms(d: int) -> list[str]:
    """One digit, written as a person, a font or a keyboard of another script writes it."""
    circled = "\u24ea" if d == 0 else chr(0x2460 + d - 1)
    superscript = {1: "\u00b9", 2: "\u00b2", 3: "\u00b3"}.get(d, chr(0x2070 + d))
    return [
        str(d),
        chr(0xFF10 + d),  # full-width
        chr(0x0660 + d),  # Arabic-Indic
        chr(0x06F0 + d),  # extended Arabic-Indic (Persian)
        chr(0x0966 + d),  # Devanagari
        chr(0x1D7CE + d),  # mathematical bold
        chr(0x1D7F6 + d),  # mathematical monospace
        circled,
        superscript,
        chr(0x2080 + d),  # subscript
        f"{d}\ufe0f\u20e3",  # keycap
        f"{d}\u0332",  # with a combining low line
    ]


@dataclass(frozen=True)
class Spelled:
    """A generated identifier as written (``text``), and what it is: the digits or address inside it."""

    text: str
    kind: str
    core: str  # the 10 or 12 digits, or the address in ASCII


@st.composite
def national_numbers(draw: st.DrawFn) -> tuple[str, str]:
    """(10 or 12 digits, kind) of a generated personnummer or samordningsnummer."""
    coordination = draw(st.booleans())
    pnr = generate_personnummer(random.Random(draw(st.integers(0, 2**32))), coordination=coordination)
    digits = pnr if draw(st.booleans()) else pnr[2:]
    return digits, "samordningsnummer" if coordination else "personnummer"


@st.composite
def _gap(draw: st.DrawFn, separators: tuple[str, ...], invisible: bool) -> str:
    visible = draw(st.lists(st.sampled_from(separators), min_size=1, max_size=3))
    if not invisible:
        return "".join(visible)
    out = []
    for char in visible:
        out.append(draw(st.text(st.sampled_from(INVISIBLE), max_size=2)))
        out.append(char)
    return "".join(out)


@st.composite
def spelled_numbers(draw: st.DrawFn, *, ascii_only: bool = False) -> Spelled:
    """A personnummer or samordningsnummer cut into groups at any places, every cut a separator (or none),
    digits in any script (``ascii_only``: ASCII digits and the separators of the id grammar)."""
    digits, kind = draw(national_numbers())
    separators = ID_SEPARATORS if ascii_only else VISIBLE_SEPARATORS
    cuts = draw(st.sets(st.integers(1, len(digits) - 1), max_size=len(digits) - 1))
    out = []
    for i, d in enumerate(digits):
        if i in cuts and draw(st.booleans()):
            out.append(draw(_gap(separators, invisible=not ascii_only)))
        elif not ascii_only and draw(st.integers(0, 9)) == 0:
            out.append(draw(st.sampled_from(INVISIBLE)))
        out.append(str(d) if ascii_only else draw(st.sampled_from(_digit_forms(int(d)))))
    return Spelled("".join(out), kind, digits)


_words = st.text(st.characters(categories=("L",)), min_size=1, max_size=8)
_ascii_words = st.from_regex(r"[A-Za-z]{1,8}", fullmatch=True)


@st.composite
def embedded(draw: st.DrawFn, inner: Spelled, *, ascii_only: bool = False) -> Spelled:
    """``inner`` alone, or inside words, a path or a sentence, the letters touching it or not."""
    words = _ascii_words if ascii_only else _words
    joiners = ID_SEPARATORS if ascii_only else ("/", " ", "-", "_", ":", "=", "#", "\u00a0", "")
    before = draw(st.just("") | st.builds(str.__add__, words, st.sampled_from(joiners)))
    after = draw(st.just("") | st.builds(str.__add__, st.sampled_from(joiners), words))
    return Spelled(before + inner.text + after, inner.kind, inner.core)


@st.composite
def hidden_numbers(draw: st.DrawFn, *, ascii_only: bool = False) -> Spelled:
    return draw(embedded(draw(spelled_numbers(ascii_only=ascii_only)), ascii_only=ascii_only))


_local = st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,15}", fullmatch=True)
_label = st.from_regex(r"[a-z0-9][a-z0-9-]{0,10}", fullmatch=True)


@st.composite
def emails(draw: st.DrawFn) -> str:
    """A generated address (``kund.42@exempel.se``), in ASCII."""
    labels = draw(st.lists(_label, min_size=1, max_size=3))
    return f"{draw(_local)}@{'.'.join(labels)}.{draw(st.sampled_from(['se', 'com', 'nu', 'org']))}"


def _full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@st.composite
def spelled_emails(draw: st.DrawFn) -> Spelled:
    """An address as written: upper or lower case, full-width, "@" as U+FF20 or U+FE6B, invisible characters in it."""
    address = draw(emails())
    text = address.upper() if draw(st.booleans()) else address
    style = draw(st.sampled_from(["plain", "full_width", "at", "small_at", "invisible"]))
    if style == "full_width":
        text = _full_width(text)
    elif style == "at":
        text = text.replace("@", "\uff20")
    elif style == "small_at":
        text = text.replace("@", "\ufe6b")
    elif style == "invisible":
        cut = draw(st.integers(0, len(text)))
        text = text[:cut] + draw(st.sampled_from(INVISIBLE)) + text[cut:]
    return Spelled(text, "email", address)


@st.composite
def hidden_emails(draw: st.DrawFn) -> Spelled:
    inner = draw(spelled_emails())
    before = draw(st.sampled_from(["", "customer/", "mail to ", "crm:contact:", "x="]))
    after = draw(st.sampled_from(["", "/profile", " asked", "#top", "?x=1"]))
    return Spelled(before + inner.text + after, "email", inner.core)


def id_emails() -> st.SearchStrategy[Spelled]:
    """An address inside an id or a path: ASCII, so only the "@" can give it away."""
    return emails().flatmap(
        lambda a: st.sampled_from([a, f"customer/{a}", f"crm:{a}:x", f"mail-{a}"]).map(lambda t: Spelled(t, "email", a))
    )
