"""Kept for old imports: the word table lives in :mod:`qwenvl_viz.words` (figures/ reads it from there)."""

from ..words import LANGS, WORDS, Lang, lang_of, tr  # noqa: F401

__all__ = ["Lang", "LANGS", "WORDS", "tr", "lang_of"]
