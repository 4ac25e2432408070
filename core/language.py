"""English or Spanish? Told offline from common words and Spanish marks.

The routine set only asks for English or Spanish, and the failure to catch is an
answer in the wrong one of the two (or a mix: "El votado en la ciudad earlier at your
local library"), so a full language identifier would earn no place. Each language has
a list of frequent words the other rarely uses (function words and the campaign's
everyday words); a Spanish accent, ñ, ¿ or ¡ counts for Spanish. A text is in a
language when at least `MIN_SIGNALS` signals were found and `SHARE` of them point
there; otherwise it is undecided (too short, hashtags only, or a mix).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from core.text_measures import words

Language = Literal["en", "es"]
MIN_SIGNALS = 2
SHARE = 0.7

_ENGLISH_WORDS = """the and of to in is are was were be been being for on with at by from this that
    these those it its it's have has had will would can could should must you your
    yours we our ours us they their them he she his her him not but or if an all about
    more who what when where how which there here then than thank thanks please vote
    voting voter voters volunteers volunteer community join today tomorrow tonight every
    help do does did just my i'm we're you're don't can't won't isn't let's our new
    make out up so our because also only into over after before need needs want get
    people town hall meeting register registration election campaign day week
    night morning evening free neighbors neighbours family families school schools
    street support work working workers team time thanks voice future together
    county city state local candidate office saturday sunday monday tuesday wednesday
    thursday friday january february march april june july august september october
    november december"""
_SPANISH_WORDS = """el la los las de del y en que es un una unos unas por para con su sus se lo al
    como mas más pero este esta estos estas esto está están son fue ser hay muy tu tus
    nuestro nuestra nuestros nuestras nosotros ustedes usted le les sin sobre entre
    cuando donde dónde porque también ya gracias vota votar voto votos votantes
    voluntarios voluntarias voluntario voluntaria comunidad hoy mañana todos todas cada
    ayuda ayudar nos mi mis o ni si sí juntos juntas voz cuenta futuro familia familias
    escuela escuelas barrio vecinos vecinas calle trabajo equipo tiempo reunión
    registro registrarse inscríbete inscribirse elecciones elección campaña día días
    semana noche tarde candidata candidato oficina condado ciudad estado sábado domingo
    lunes martes miércoles jueves viernes enero febrero marzo abril mayo junio julio
    agosto septiembre octubre noviembre diciembre puede pueden podemos queremos tiene
    tienen hacer favor estimado estimada querido querida saludos atentamente hola ante
    desde hasta después antes ahora aquí todo toda nueva nuevo gran"""
ENGLISH = frozenset(_ENGLISH_WORDS.split())
SPANISH = frozenset(_SPANISH_WORDS.split())
_SPANISH_MARKS = set("áéíóúñü¿¡")


@dataclass(frozen=True)
class LanguageGuess:
    """The signals counted and the language they point to (None: undecided)."""

    english: int
    spanish: int
    language: Language | None


def guess_language(text: str) -> LanguageGuess:
    """Count English and Spanish signals in `text` and decide, or leave undecided."""
    english = spanish = 0
    for word in words(text.lower()):
        word = word.replace("’", "'").strip("'-")
        in_english, in_spanish = word in ENGLISH, word in SPANISH
        if any(char in _SPANISH_MARKS for char in word) or (in_spanish and not in_english):
            spanish += 1
        elif in_english and not in_spanish:
            english += 1
    spanish += sum(text.count(mark) for mark in "¿¡")
    total = english + spanish
    language: Language | None = None
    if total >= MIN_SIGNALS:
        if english >= SHARE * total:
            language = "en"
        elif spanish >= SHARE * total:
            language = "es"
    return LanguageGuess(english=english, spanish=spanish, language=language)
