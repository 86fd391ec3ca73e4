"""The one exception type a user can cause.

Every error that bad input can produce is a `ScalingError` whose message names the bad value and what is
accepted. The CLI turns it into one line on stderr and exit status 2.
"""

from __future__ import annotations


class ScalingError(ValueError):
    """Bad input: the message names the offending value and what would be accepted."""


QUOTE_CHARS = 80  # the most characters of a value a message repeats


def quoted(value: object, limit: int = QUOTE_CHARS) -> str:
    """``value`` as a message quotes it: its ``repr`` (control characters escaped: a newline reads ``\\n``),
    cut to ``limit`` characters with "…" and the full length when longer, so that a 10 MB argument is not
    repeated whole. Use it for every value a message echoes:
    ``f"invalid {what} {quoted(value)}: expected ..."``."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]!r}… ({len(value):,} characters)"
    text = repr(value)
    return f"{text[:limit]}… ({len(text):,} characters)" if len(text) > limit else text


LINE_CHARS = 400  # the longest error or warning line the CLI prints


def one_line(line: str, limit: int = LINE_CHARS) -> str:
    """``line`` as one printable line of at most ``limit`` characters: control characters escaped (a newline
    reads ``\\n``) and, when longer, its middle cut out with " … " so that its end (what is accepted) stays.
    The CLI's last guard for every ``error:`` and ``warning:`` line; values should already be `quoted`."""
    head, tail = limit * 7 // 10, limit * 3 // 10 - 3
    if len(line) > 4 * limit:  # cut before escaping, so a 10 MB message costs nothing
        line = line[: 2 * limit] + line[-2 * limit :]
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in line)
    return text if len(text) <= limit else f"{text[:head]} … {text[-tail:]}"


def set_aside_summary(set_aside: tuple[tuple[int, str, str], ...], total: int, source: str) -> str | None:
    """One line for rows a reader set aside, given as (line, reason, shown value): how many of ``total``, per
    reason with its first example; None when none were."""
    if not set_aside:
        return None
    reasons: dict[str, list[tuple[int, str]]] = {}
    for line, reason, shown in set_aside:
        reasons.setdefault(reason, []).append((line, shown))
    parts = [f"{r}: {len(i)} (line {i[0][0]}: {quoted(i[0][1], 40)})" for r, i in reasons.items()]
    return f"set aside {len(set_aside)} of {total} rows of {source}: " + "; ".join(parts)
