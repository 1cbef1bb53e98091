r"""LaTeX formulas of the spec as plain Unicode text, for a terminal.

:func:`to_text` reads the subset of LaTeX math the registry uses (Greek letters, relations,
``\frac``, ``\sqrt``, accents, sub- and superscripts, ``\text``-like commands, ``cases``) and
writes what a reader would write by hand::

    to_text(r"\hat m = \frac{m}{1-\beta_1^t}")  ==  "m̂ = m/(1−β₁ᵗ)"

A fraction $\frac{a}{b}$ becomes ``a/b`` with parentheses around a part that is not one atom;
$x^{2}$ becomes ``x²`` when every character has a Unicode superscript and ``x^(...)`` otherwise
(the same for subscripts); an accent becomes a combining mark on each letter. With
``strict=True`` an unknown command raises :class:`ValueError` naming it (the registry's test
renders every formula strictly); otherwise its name is kept without the backslash.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["is_code", "to_text"]

_SYMBOLS: dict[str, str] = {
    # Greek
    "alpha": "α",
    "beta": "β",
    "gamma": "γ",
    "delta": "δ",
    "epsilon": "ε",
    "varepsilon": "ε",
    "zeta": "ζ",
    "eta": "η",
    "theta": "θ",
    "vartheta": "ϑ",
    "iota": "ι",
    "kappa": "κ",
    "lambda": "λ",
    "mu": "μ",
    "nu": "ν",
    "xi": "ξ",
    "pi": "π",
    "rho": "ρ",
    "sigma": "σ",
    "tau": "τ",
    "upsilon": "υ",
    "phi": "φ",
    "varphi": "φ",
    "chi": "χ",
    "psi": "ψ",
    "omega": "ω",
    "Gamma": "Γ",
    "Delta": "Δ",
    "Theta": "Θ",
    "Lambda": "Λ",
    "Xi": "Ξ",
    "Pi": "Π",
    "Sigma": "Σ",
    "Phi": "Φ",
    "Psi": "Ψ",
    "Omega": "Ω",
    # relations, operators, arrows
    "leftarrow": "←",
    "gets": "←",
    "rightarrow": "→",
    "to": "→",
    "Rightarrow": "⇒",
    "Leftarrow": "⇐",
    "Longleftrightarrow": "⟺",
    "Leftrightarrow": "⇔",
    "mapsto": "↦",
    "le": "≤",
    "leq": "≤",
    "ge": "≥",
    "geq": "≥",
    "ne": "≠",
    "neq": "≠",
    "approx": "≈",
    "sim": "~",
    "equiv": "≡",
    "propto": "∝",
    "in": "∈",
    "notin": "∉",
    "ni": "∋",
    "subset": "⊂",
    "cdot": "·",
    "times": "×",
    "odot": "⊙",
    "oslash": "⊘",
    "otimes": "⊗",
    "pm": "±",
    "mp": "∓",
    "ast": "∗",
    "circ": "∘",
    "infty": "∞",
    "partial": "∂",
    "nabla": "∇",
    "sum": "Σ",
    "prod": "∏",
    "int": "∫",
    "top": "ᵀ",
    "dots": "…",
    "ldots": "…",
    "cdots": "⋯",
    "ell": "ℓ",
    "forall": "∀",
    "exists": "∃",
    "neg": "¬",
    "land": "∧",
    "lor": "∨",
    "lVert": "‖",
    "rVert": "‖",
    "Vert": "‖",
    "|": "‖",
    "lvert": "|",
    "rvert": "|",
    "vert": "|",
    "lfloor": "⌊",
    "rfloor": "⌋",
    "lceil": "⌈",
    "rceil": "⌉",
    "langle": "⟨",
    "rangle": "⟩",
    "{": "{",
    "}": "}",
    "_": "_",
    "%": "%",
    "#": "#",
    "&": "&",
    "$": "$",
    # named functions
    "max": "max",
    "min": "min",
    "log": "log",
    "ln": "ln",
    "exp": "exp",
    "tanh": "tanh",
    "sin": "sin",
    "cos": "cos",
    "arg": "arg",
    "sup": "sup",
    "inf": "inf",
    "det": "det",
    "sgn": "sgn",
    "lim": "lim",
    "argmax": "argmax",
    "argmin": "argmin",
    # spacing
    ",": " ",
    ";": " ",
    ":": " ",
    " ": " ",
    "!": "",
    "quad": "  ",
    "qquad": "    ",
}
# commands that only size or style what follows
_IGNORED = {"textstyle", "displaystyle", "scriptstyle", "big", "Big", "bigg", "Bigg", "bigl",
            "bigr", "Bigl", "Bigr", "biggl", "biggr", "left", "right", "middle", "limits",
            "nolimits"}  # fmt: skip
# commands whose argument is text or a font change: the argument, as it is
_TEXT = {"text", "textrm", "textit", "textbf", "texttt", "textsf", "mbox"}
_FONT = {"mathrm", "mathbf", "mathit", "mathsf", "mathtt", "boldsymbol", "bm", "operatorname",
         "mathrel", "mathop", "mathbin"}  # fmt: skip
_ACCENTS = {"hat": "\u0302", "widehat": "\u0302", "tilde": "\u0303", "widetilde": "\u0303",
            "bar": "\u0304", "overline": "\u0305", "dot": "\u0307", "ddot": "\u0308",
            "vec": "\u20d7"}  # fmt: skip
_BLACKBOARD = {"R": "ℝ", "E": "𝔼", "N": "ℕ", "Z": "ℤ", "Q": "ℚ", "C": "ℂ", "P": "ℙ"}
_CALLIGRAPHIC = {"L": "ℒ", "N": "𝒩", "U": "𝒰", "D": "𝒟", "O": "𝒪", "H": "ℋ", "B": "ℬ",
                 "E": "ℰ", "F": "ℱ", "M": "ℳ", "R": "ℛ", "T": "𝒯", "X": "𝒳", "Y": "𝒴"}  # fmt: skip
_SUP = dict(zip("0123456789+-−=()nitTjkmpsxabcdeflghoruvwyz",
                "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁻⁼⁽⁾ⁿⁱᵗᵀʲᵏᵐᵖˢˣᵃᵇᶜᵈᵉᶠˡᵍʰᵒʳᵘᵛʷʸᶻ", strict=True))  # fmt: skip
_SUP["ᵀ"] = "ᵀ"
_SUB = dict(zip("0123456789+-−=()aehijklmnoprstuvx",
                "₀₁₂₃₄₅₆₇₈₉₊₋₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ", strict=True))  # fmt: skip

# after these a space of the source is dropped: "\lVert g" is "‖g", "\partial l" is "∂l"
_TIGHT = {"lVert", "lvert", "lfloor", "lceil", "langle", "partial", "nabla", "Delta", "neg"}

_TOKEN = re.compile(r"\\[A-Za-z]+\*?|\\.|\s+|.", re.DOTALL)


class _Parser:
    def __init__(self, src: str, strict: bool) -> None:
        self.src = src
        self.tokens: list[str] = _TOKEN.findall(src)
        self.i = 0
        self.strict = strict

    # -- tokens ------------------------------------------------------------------------------
    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> str:
        if self.i >= len(self.tokens):
            raise ValueError(f"formula {self.src!r}: ends where an argument is expected")
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def skip_space(self) -> None:
        while (t := self.peek()) is not None and t.isspace():
            self.i += 1

    def raw_group(self) -> str:
        """The source text of the next ``{...}`` (or one token), unparsed (for ``\\text``)."""
        self.skip_space()
        if self.peek() != "{":
            return self.take()
        self.take()
        depth, out = 1, list[str]()
        while True:
            tok = self.take()
            if tok == "{":
                depth += 1
            elif tok == "}":
                depth -= 1
                if depth == 0:
                    return "".join(out)
            out.append(tok[1:] if tok in ("\\{", "\\}", "\\_", "\\%", "\\&", "\\ ") else tok)

    def optional(self) -> str | None:
        """A ``[...]`` argument, rendered, if one follows."""
        if self.peek() != "[":
            return None
        self.take()
        out = []
        while self.peek() not in ("]", None):
            out.append(self.atom())
        self.take()
        return "".join(out)

    # -- grammar -----------------------------------------------------------------------------
    def sequence(self, stop: tuple[str, ...] = ()) -> str:
        out: list[str] = []
        while (t := self.peek()) is not None and t not in stop:
            out.append(self.atom_with_scripts())
        return "".join(out)

    def argument(self) -> str:
        """The next argument: a group, a command with its arguments, or one character."""
        self.skip_space()
        return self.atom()

    def atom_with_scripts(self) -> str:
        base = self.atom()
        while self.peek() in ("^", "_"):
            mark = self.take()
            arg = self.argument()
            base += _script(arg, _SUP if mark == "^" else _SUB, mark)
        return base

    def atom(self) -> str:
        tok = self.take()
        if tok == "{":
            inner = self.sequence(stop=("}",))
            self.take()
            return inner
        if tok.isspace():
            return " "
        if tok == "-":
            return "−"
        if tok == "~":
            return " "
        if tok in ("^", "_"):  # a script with no base
            return _script(self.argument(), _SUP if tok == "^" else _SUB, tok)
        if tok == "\\\\":
            return "; "
        if not tok.startswith("\\"):
            return tok
        return self.command(tok[1:])

    def command(self, name: str) -> str:
        if name in _IGNORED:
            if name in ("left", "right", "middle") and self.peek() == ".":
                self.take()
            return ""
        if name in _SYMBOLS:
            if name in _TIGHT:
                self.skip_space()
            return _SYMBOLS[name]
        if name in _TEXT:
            return self.raw_group()
        if name in _FONT:
            return self.argument()
        if name == "mathbb":
            arg = self.argument()
            return "".join(_BLACKBOARD.get(c, c) for c in arg)
        if name == "mathcal":
            arg = self.argument()
            return "".join(_CALLIGRAPHIC.get(c, c) for c in arg)
        if name in _ACCENTS:
            return _accent(self.argument(), _ACCENTS[name])
        if name in ("frac", "tfrac", "dfrac"):
            num, den = self.argument(), self.argument()
            after = self.peek()
            gap = " " if after is not None and (after.isalnum() or after.startswith("\\")) else ""
            return f"{_wrap(num)}/{_wrap(den)}{gap}"
        if name == "sqrt":
            index = self.optional()
            arg = self.argument()
            root = "√" if index is None else _script(index, _SUP, "^") + "√"
            return root + (arg if _is_atom(arg) else f"({arg})")
        if name == "overset":
            over, base = self.argument(), self.argument()
            return f"{base}({over})"
        if name == "underset":
            under, base = self.argument(), self.argument()
            return f"{base}_({under})"
        if name == "xrightarrow":
            return f" →({self.argument()}) "
        if name == "begin":
            return self.environment(self.raw_group())
        if self.strict:
            raise ValueError(f"formula {self.src!r}: unknown LaTeX command \\{name}")
        return name

    def environment(self, env: str) -> str:
        rows: list[list[str]] = [[]]
        cell: list[str] = []
        while True:
            t = self.peek()
            if t is None:
                raise ValueError(f"formula {self.src!r}: \\begin{{{env}}} is never ended")
            if t == "\\end":
                self.take()
                self.raw_group()
                break
            if t == "&":
                self.take()
                rows[-1].append("".join(cell).strip())
                cell = []
            elif t == "\\\\":
                self.take()
                rows[-1].append("".join(cell).strip())
                rows.append([])
                cell = []
            else:
                cell.append(self.atom_with_scripts())
        rows[-1].append("".join(cell).strip())
        rows = [r for r in rows if any(r)]
        if env == "cases":
            cells = [[c.rstrip(",").strip() for c in r] for r in rows]
            return "{ " + "; ".join(", ".join(c for c in r if c) for r in cells) + " }"
        return "[" + "; ".join(", ".join(r) for r in rows) + "]"


def _base_len(s: str) -> int:
    return sum(1 for c in s if not unicodedata.combining(c))


def _is_atom(s: str) -> bool:
    """One symbol, one number or one word: needs no parentheses next to ``/`` or a root."""
    s = s.strip()
    if _base_len(s) <= 1:
        return True
    if re.fullmatch(r"[0-9.]+|[A-Za-z]+", s):
        return True
    if s[0] in "(‖|[" and s[-1] in ")‖|]" and _balanced_outer(s):
        return True
    if s[0] == "√" and _is_atom(s[1:]):
        return True
    return re.fullmatch(r"[^\s+−\-/·=,;<>≤≥←→()]+", s) is not None and _base_len(s) <= 6


def _balanced_outer(s: str) -> bool:
    """``s`` is one bracketed group: its first bracket closes at its last character."""
    pairs = {"(": ")", "[": "]"}
    if s[0] in "‖|":
        return s.count(s[0]) == 2
    depth = 0
    for k, c in enumerate(s):
        if c == s[0]:
            depth += 1
        elif c == pairs[s[0]]:
            depth -= 1
            if depth == 0 and k != len(s) - 1:
                return False
    return depth == 0


def _wrap(s: str) -> str:
    s = s.strip()
    return s if _is_atom(s) else f"({s})"


def _script(arg: str, table: dict[str, str], mark: str) -> str:
    arg = arg.strip()
    word = re.fullmatch(r"[A-Za-z]{2,}", arg) is not None  # fan_in, y_test: not ₜₑₛₜ
    if arg and all(c in table for c in arg) and not word:
        return "".join(table[c] for c in arg)
    if mark == "_" and _is_atom(arg):
        return "_" + arg
    return mark + (arg if _base_len(arg) <= 1 else f"({arg})")


def _accent(arg: str, mark: str) -> str:
    return "".join(c + mark if c.isalnum() or c in "αβγδεηθλμνρστφψω" else c for c in arg)


def _tidy(s: str) -> str:
    s = re.sub(r"[ \t]+", " ", s)
    s = re.sub(r"\( ", "(", s)
    s = re.sub(r" ([)⌋⌉⟩])", r"\1", s)
    s = re.sub(r" ([,;])", r"\1", s)
    return s.strip()


def is_code(text: str) -> bool:
    """``text`` is code or prose as a document prints it, not LaTeX: no command, and an
    identifier with an underscore (``tf.truncated_normal``) or a run of three words."""
    return "\\" not in text and bool(
        re.search(r"[A-Za-z]{2,}_[A-Za-z]{2,}|[A-Za-z]{3,} [A-Za-z]{3,} [A-Za-z]{3,}", text)
    )


def to_text(latex: str, *, strict: bool = False) -> str:
    r"""The LaTeX math ``latex`` as one line of Unicode text (see the module docstring).

    $\frac{a}{b}$ is written ``a/b`` with parentheses around a part that is more than one atom;
    $\sqrt{x}$ is ``√x`` or ``√(...)``; scripts use Unicode sub- and superscripts where every
    character has one. ``strict=True`` raises :class:`ValueError` on an unknown command.
    """
    if not isinstance(latex, str):
        raise TypeError(f"latex must be a str, got {type(latex).__name__}")
    return _tidy(_Parser(latex, strict).sequence())
