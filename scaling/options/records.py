"""`Option`, one parameter of a request, declared once; `Declaration`, the options of one face; `Parsed`,
their values after `Declaration.parse`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from scaling import checks
from scaling.options.parsers import flag


@dataclass(frozen=True)
class Option:
    """One parameter: ``name`` is its keyword (and the click destination), ``flags`` its command-line forms
    (the first is the flag; none for the MODEL argument), ``parse`` turns what a user types (or a number)
    into the value, once; None keeps the value as given (a name the library resolves). ``needs`` names other
    options whose parsed values ``parse`` takes as keywords (``--gpus`` needs ``--accelerator-file``)."""

    name: str
    flags: tuple[str, ...]
    help: str = ""
    parse: Callable[..., Any] | None = None
    default: Any = None
    unit: str = ""
    choices: tuple[str, ...] = ()
    is_flag: bool = False
    off_flag: str = ""  # ``--no-flash`` for an on/off pair
    multiple: bool = False
    file: str = ""  # "in": a file the command reads; "out": one it writes
    needs: tuple[str, ...] = ()
    placeholder: str = ""  # the app's hint in an empty field

    @property
    def flag(self) -> str:
        """How messages and the app name it: ``--gpus``, or ``MODEL`` for the argument."""
        return self.flags[0] if self.flags else self.name.upper()

    @property
    def is_argument(self) -> bool:
        return not self.flags

    @property
    def field(self) -> str:
        """The app's field name and the link's query key: the flag without ``--`` (``gpu-hours``)."""
        return self.flag.removeprefix("--") if self.flags else self.name

    def parse_value(self, value: Any, **context: Any) -> Any:
        """The value from what was given (never None: an option not given is not parsed)."""
        if self.is_flag:
            return flag(value, self.flag)
        if self.multiple:
            items = tuple(value) if isinstance(value, (list, tuple)) else (value,)
            return tuple(self._one(item, context) for item in items)
        return self._one(value, context)

    def _one(self, value: Any, context: dict[str, Any]) -> Any:
        if self.choices:
            return checks.choice(value, self.choices, self.flag)
        return value if self.parse is None else self.parse(value, self.flag, **context)


@dataclass(frozen=True, eq=False)
class Parsed(Mapping[str, Any]):
    """The values of a declaration's options (parsed, or their defaults), read as ``values.mfu`` or
    ``values["mfu"]``; ``given`` names the options that were given and ``raw`` holds them as given."""

    declaration: Declaration
    values: dict[str, Any]
    given: frozenset[str] = frozenset()
    raw: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["values"][name]
        except KeyError:
            raise AttributeError(name) from None


class Declaration:
    """The options of one face, in the order its command lists them; ``required`` names those that must be
    given. ``caller`` names the library function whose keywords they are, for its errors."""

    def __init__(self, caller: str, options: Iterable[Option], *, required: Iterable[str] = ()) -> None:
        self.caller = caller
        self.options = tuple(options)
        self.required = frozenset(required)
        self._by_name = {o.name: o for o in self.options}
        if len(self._by_name) != len(self.options):
            raise ValueError(f"{caller}: two options share a name")
        unknown = self.required - set(self._by_name)
        if unknown:
            raise ValueError(f"{caller}: required {sorted(unknown)} are not options")

    def __iter__(self) -> Iterator[Option]:
        return iter(self.options)

    def __getitem__(self, name: str) -> Option:
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._by_name)

    def parse(self, given: Mapping[str, Any] | None = None, /, **keywords: Any) -> Parsed:
        """Each given value parsed once by its option (None counts as not given), every other option at its
        default. An unknown keyword is a `TypeError` naming the accepted ones, as Python's own would be."""
        raw = {**(given or {}), **keywords}
        unknown = [k for k in raw if k not in self._by_name]
        if unknown:
            raise TypeError(
                f"{self.caller}() got an unexpected keyword argument {unknown[0]!r}; "
                f"it accepts: {', '.join(self.names)}"
            )
        raw = {k: v for k, v in raw.items() if v is not None and not (self[k].multiple and v == ())}
        missing = sorted(self.required - set(raw))
        if missing:
            raise TypeError(f"{self.caller}() missing required keyword argument {missing[0]!r}")
        values = {o.name: o.default for o in self.options}
        for option in sorted(self.options, key=lambda o: bool(o.needs)):  # what others need comes first
            if option.name in raw:
                context = {n: values[n] for n in option.needs if n in self._by_name}
                values[option.name] = option.parse_value(raw[option.name], **context)
        return Parsed(self, values, frozenset(raw), raw)

    def fields(self, names: Iterable[str]) -> dict[str, Option]:
        """The app's fields for these options, by field name (the flag without ``--``)."""
        return {self[name].field: self[name] for name in names}
